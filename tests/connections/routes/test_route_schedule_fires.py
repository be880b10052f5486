"""Acceptance: a schedule set in the route's form fires through a real Celery beat and worker."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from connections.models import Incoming, Outgoing, Route, RouteRun, TriggerSource
from tests.fixtures.sandbox import grant_client


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schedule_from_the_form_fires_through_beat(sandbox, editor_client, celery_worker_process,
                                                   celery_beat_process):
    division = sandbox.divisions[0]
    client = grant_client(sandbox, "schedule", unlimited=True)
    incoming = Incoming.objects.create(
        name="VAT codes", subscriber="exact_online", http_client=client, query={"$select": "ID,Code,Description"},
        config={"entity": "vat/VATCodes", "divisions": "selected", "division_codes": [division]},
    )
    outgoing = Outgoing.objects.create(name="Read VAT code", publisher="exact_online", action="get",
                                       entity="vat/VATCodes", path={"division": division}, http_client=client)
    response = editor_client.post(reverse("connections:route_create"), {
        "name": "Scheduled VAT codes", "incoming": incoming.pk, "outgoing": outgoing.pk, "enabled": "on",
        "max_attempts": 3, "backoff_seconds": 1, "batch_size": 50, "schedule_kind": "interval",
        "interval_seconds": 2, "cron": "", "timezone": "Europe/Amsterdam",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    route = Route.objects.get(name="Scheduled VAT codes")
    assert route.periodic_task is not None and route.periodic_task.interval.every == 2

    worker = celery_worker_process(concurrency=2)
    beat = celery_beat_process()
    deadline = time.monotonic() + 45
    finished = None
    while time.monotonic() < deadline and finished is None:
        finished = RouteRun.objects.filter(route=route, trigger=TriggerSource.SCHEDULED,
                                           status=RouteRun.Status.SUCCEEDED).first()
        time.sleep(0.5)
    assert finished is not None, "the schedule did not fire a run that finished"
    assert finished.run.entities_read > 0
    assert finished.run.tasks.filter(status="finished").count() == finished.run.entities_read
    assert f"Sending due task route:{route.pk}" in beat.log()  # beat (not a click) sent it
    beat.kill()
    worker.kill()  # idle: nothing to lose, and a warm shutdown of a polling worker takes seconds

    # Clearing the schedule in the form stops it: beat has nothing left to fire for this route.
    response = editor_client.post(reverse("connections:route_edit", args=[route.pk]), {
        "name": route.name, "incoming": incoming.pk, "outgoing": outgoing.pk, "enabled": "on", "max_attempts": 3,
        "backoff_seconds": 1, "batch_size": 50, "schedule_kind": "none", "interval_seconds": "", "cron": "",
        "timezone": "Europe/Amsterdam",
    })
    assert response.status_code == 302
    route.refresh_from_db()
    assert route.periodic_task is None
