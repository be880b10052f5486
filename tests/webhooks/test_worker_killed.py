"""Acceptance: a worker killed (SIGKILL) while processing deliveries loses nothing and duplicates nothing.

Deliveries are stored by the endpoint and queued; a real worker processes them and is killed half-way.
A batch is claimed (Processing) in a transaction of its own and its tasks written with its outcome in
another, so the killed worker's batch stays Processing with nothing written; the sweep (beat's job, called
here more often and with a short stuck time) puts it back to Received and queues whatever lost its message,
and a replacement worker finishes the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client

from connections.models import Task
from webhooks.models import Delivery
from webhooks.processing import sweep

from .conftest import post

DELIVERIES = 300


def _processed() -> int:
    return Delivery.objects.filter(status=Delivery.Status.PROCESSED).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_processing_loses_no_delivery(fed_route, celery_worker_process):
    hook, route = fed_route
    client = Client()
    for i in range(DELIVERIES):
        assert post(client, hook, {"orders": [{"id": f"{i}-a"}, {"id": f"{i}-b"}]}).status_code == 202

    doomed = celery_worker_process(concurrency=2, name="doomed")
    deadline = time.monotonic() + 120
    while _processed() < DELIVERIES // 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.kill()
    assert _processed() < DELIVERIES, "all processed before the kill: the test proves nothing"
    replacement = celery_worker_process(concurrency=2, name="replacement")
    while _processed() < DELIVERIES and time.monotonic() < deadline:
        sweep(older_than=timedelta(seconds=3), stuck_after=timedelta(seconds=3))  # what beat does every minute
        time.sleep(1)
    replacement.kill()

    assert Counter(Delivery.objects.values_list("status", flat=True)) == {"processed": DELIVERIES}
    identifiers = list(Task.objects.filter(run__route_run__route=route).values_list("identifier", flat=True))
    assert len(identifiers) == 2 * DELIVERIES
    assert len(set(identifiers)) == 2 * DELIVERIES  # none twice
    assert set(Delivery.objects.values_list("tasks_created", flat=True)) == {2}
