"""Against the sandbox: no worker sleeps on Exact's quota. A 429 parks the division until the reset Exact states;
a division without quota waits while another one goes on; a read waits and resumes at its checkpoint."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.utils import timezone

from connections.flow import publish
from connections.flow.read import execute_incoming_run
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
from exact_online import errors
from exact_online.client_type import api_for
from exact_online.models import QuotaState
from tests.fixtures.sandbox import grant_client

pytestmark = pytest.mark.django_db


def app_limits(box, client, **limits):
    """Limits for this client's app only (other tests' apps keep theirs)."""
    current = box.http.get(f"{box.url}/sandbox/api/limits", headers=box.control_headers, timeout=10).json()
    box.set_limits(apps={**current.get("apps", {}), client.config["client_id"]: limits})


def our_requests(box, client):
    return [row for row in box.requests_log() if row.get("client_id") == client.config["client_id"]
            and row["path"].startswith("/api/v1/")]


def test_a_429_parks_the_division_until_the_reset_and_nothing_is_sent_meanwhile(sandbox):
    client = grant_client(sandbox, "quota park", unlimited=True)
    division = sandbox.divisions[0]
    sandbox.set_faults({"path": f"/{division}/crm/Accounts", "throttle_rate": 1, "times": 1})
    try:
        api = api_for(client)
        started = time.monotonic()
        with pytest.raises(errors.QuotaWait) as first:
            api.get("crm/Accounts", division=division, params={"$select": "ID", "$top": "1"})
        assert time.monotonic() - started < 5  # told, not slept
        assert first.value.which == "parked" and first.value.until > time.time()
        assert first.value.wait_reason == f"Throttled by Exact Online for division {division}"
        state = QuotaState.objects.get(client=client, division=division)
        assert state.is_parked() and state.throttled_count == 1
        sent = len(our_requests(sandbox, client))
        with pytest.raises(errors.QuotaWait):  # another worker: parked in the shared store, nothing is sent
            api_for(client).get("crm/Accounts", division=division, params={"$select": "ID", "$top": "1"})
        assert len(our_requests(sandbox, client)) == sent
        # The other division is not parked.
        assert api.get("crm/Accounts", division=sandbox.divisions[1], params={"$select": "ID", "$top": "1"})["d"]
    finally:
        sandbox.clear_faults()


def _create_route(client, division: int, tasks: int, name: str) -> RouteRun:
    incoming = Incoming.objects.create(name=f"{name} in", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name=f"{name} out", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": division}, http_client=client)
    route = Route.objects.create(name=name, incoming=incoming, outgoing=outgoing, batch_size=tasks)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, incoming=incoming, identifier=f"{name}-{i}",
                                   transformed={"Name": f"{name} {i}"}) for i in range(tasks)])
    return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)


def test_one_division_out_of_quota_waits_while_the_other_goes_on(sandbox, settings):
    settings.EXACT_DAILY_RESERVE = 0
    client = grant_client(sandbox, "quota two divisions")
    first, second = sandbox.divisions
    app_limits(sandbox, client, minutely=1000, daily=4)  # today's calls (the grant's included) per division
    runs = {first: _create_route(client, first, 6, "quota first"), second: _create_route(client, second, 6,
                                                                                         "quota second")}
    for division, route_run in runs.items():
        ids = list(route_run.tasks().values_list("pk", flat=True))
        outcome = publish.publish_batch(route_run, ids)
        statuses = Counter(route_run.tasks().values_list("status", flat=True))
        assert statuses["finished"] >= 2 and statuses["retry"] >= 1, (division, outcome, statuses)
        waiting = route_run.tasks().filter(status=Task.Status.RETRY)
        assert {t.wait_reason for t in waiting} == {f"Daily quota of Exact Online used up for division {division}"}
        assert {t.attempts for t in waiting} == {0}
        assert all(t.next_attempt_at > timezone.now() for t in waiting)
    assert [row for row in our_requests(sandbox, client) if row["status"] == 429] == []


def test_a_read_waits_for_the_quota_and_resumes_at_its_checkpoint(sandbox_factory, settings):
    box = sandbox_factory(SANDBOX_TIME_SCALE="60")  # a minute lasts one second
    settings.EXACT_QUOTA_MINUTE_SECONDS = 1.0
    client = grant_client(box, "quota read", unlimited=True)
    division = box.divisions[0]
    total = len(api_for(client).get("crm/Accounts", division=division, params={"$select": "ID"})["d"]["results"])
    assert total >= 6, total
    box.set_limits(page_size_standard=2)
    app_limits(box, client, minutely=2, daily=100_000)
    incoming = Incoming.objects.create(name="quota read", subscriber="exact_online", http_client=client,
                                       path={"division": division}, incremental=False, pagination=True,
                                       page_cap=4,  # 8 records in 4 calls: two windows of 2 calls at least
                                       config={"entity": "crm/Accounts", "endpoint": "standard",
                                               "divisions": "selected", "division_codes": [division]})
    run, _ = Run.enqueue(incoming)
    waits = 0
    for _ in range(20):
        run = execute_incoming_run(run.pk)
        if run.status != Run.Status.QUEUED:
            break
        waits += 1
        assert run.waiting_until and run.wait_reason == f"Throttled by Exact Online for division {division}"
        if run.pages:
            assert run.checkpoint[str(division)]["next_url"]  # where it goes on
        time.sleep(max(0.0, (run.waiting_until - timezone.now()).total_seconds()) + 0.02)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert waits >= 1
    identifiers = list(run.tasks.values_list("identifier", flat=True))
    assert len(identifiers) == len(set(identifiers)) == min(total, 8)  # nothing read twice, nothing lost
