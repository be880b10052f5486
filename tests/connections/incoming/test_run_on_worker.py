"""Run now hands the run to a real Celery worker after commit; the worker reads and writes the tasks."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from connections.models import Run, Task

from .conftest import make_incoming

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_run_now_is_executed_by_a_worker(exact_client, editor_client, celery_worker_process):
    celery_worker_process(concurrency=1)
    incoming = make_incoming(exact_client, endpoint="sync", query={"$select": "ID,Name"}, name="on a worker")
    response = editor_client.post(reverse("connections:incoming_run", args=[incoming.pk]))
    run = Run.objects.get(incoming=incoming)
    assert response.url == run.get_absolute_url()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            break
        time.sleep(0.3)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.entities_read >= 10_000 and Task.objects.filter(run=run).count() == run.entities_read
