"""A real worker process on the configured broker runs the beat-scheduled heartbeat against the test database."""

import time

import pytest

from dashboard.health import clear_cache
from dashboard.models import WorkerHeartbeat
from dashboard.tasks import heartbeat


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_queued_task(celery_worker_process, viewer_client):
    celery_worker_process(concurrency=1)
    heartbeat.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
        time.sleep(0.2)
    assert WorkerHeartbeat.objects.exists(), "the worker never ran the task"
    clear_cache()
    assert viewer_client.get("/health").json()["worker"]["status"] == "ok"
