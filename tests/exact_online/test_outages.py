"""No worker waits on Exact: an outage (no answer, 502/503/504, a 401 blip) or an unreachable quota limiter defers
the work, never sleeps in the worker, and costs no attempt; the work goes on when Exact answers again."""

from __future__ import annotations

import socket
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from connections.flow import publish
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
from exact_online import errors
from exact_online.client_type import api_for
from exact_online.models import ErrorBudget
from exact_online.stores import RedisQuotaStore

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def _api_calls(sandbox) -> int:
    return sum(sandbox.counters()["requests_by_method"].values())


def test_a_worker_api_raises_an_outage_at_once_and_never_sleeps(granted_client, sandbox):
    slept: list[float] = []
    api = api_for(granted_client, sleep=slept.append)  # what a worker builds (client_type.api_for)
    division = granted_client.default_division
    sandbox.set_faults({"path": "crm/Accounts", "error_rate": 1, "error_status": 503, "times": 1})
    try:
        with pytest.raises(errors.Unavailable) as caught:
            api.get("crm/Accounts", division=division, params={"$select": "ID", "$top": "1"})
    finally:
        sandbox.clear_faults()
    assert caught.value.status == 503 and errors.is_outage(caught.value)
    assert slept == []  # raised at once: the caller defers its batch or page (before: 10 s asleep, then a retry)
    assert api.calls == 1


def test_an_unreachable_quota_limiter_sends_nothing_and_says_why(granted_client, sandbox):
    gone = redis.Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=1)
    store = RedisQuotaStore(granted_client, gone)
    before = time.time()
    found = store.reserve(101002)
    assert not found.ok and found.which == "limiter"
    assert before + 4 <= found.until <= time.time() + 6
    store.record(101002, {"X-RateLimit-Minutely-Remaining": "59"}, 200)  # a sent call's headers: no error
    api = api_for(granted_client, quota_store=store)
    sent = _api_calls(sandbox)
    with pytest.raises(errors.QuotaWait) as caught:
        api.get("crm/Accounts", division=101002, params={"$select": "ID", "$top": "1"})
    assert caught.value.wait_reason == "The quota limiter (Redis) cannot be reached for division 101002"
    assert _api_calls(sandbox) == sent  # nothing reached Exact


def _route_run(client, division: int, tasks: int) -> RouteRun:
    incoming = Incoming.objects.create(name="outage source", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name="outage create", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": division}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    route = Route.objects.create(name="outage", incoming=incoming, outgoing=outgoing, batch_size=tasks,
                                 max_attempts=1)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, incoming=incoming, transformed={"Name": f"Outage test {i}"})
                              for i in range(tasks)])
    return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)


@pytest.mark.parametrize(("fault", "status"), [
    ({"method": "POST", "error_rate": 1, "error_status": 503, "times": 1}, 503),  # refused: its look-up finds nothing
    ({"drop_rate": 1, "drop_mode": "504", "times": 2}, 504),  # written, answer lost, and the look-up's answer too
], ids=["503", "504-after-the-write"])
def test_a_batch_exact_does_not_answer_waits_without_an_attempt_then_publishes_once(granted_client, sandbox,
                                                                                     settings, fault, status):
    settings.EXACT_OUTAGE_WAIT = 30.0
    division = sandbox.divisions[1]
    route_run = _route_run(granted_client, division, 4)
    ids = list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    sandbox.set_faults({"path": "crm/Accounts", **fault})
    try:
        started = time.monotonic()
        outcome = publish.publish_batch(route_run, ids)
        took = time.monotonic() - started
    finally:
        sandbox.clear_faults()
    assert outcome == {"waiting": 4}
    assert took < 15  # no backoff slept in the worker
    tasks = list(Task.objects.filter(run=route_run.run))
    assert {t.status for t in tasks} == {Task.Status.RETRY}
    assert {t.attempts for t in tasks} == {0}  # max_attempts=1, yet nothing failed: waiting is not an attempt
    assert {t.wait_reason for t in tasks} == {f"Exact Online unavailable for division {division} "
                                              f"(HTTP {status})"}
    route_run.refresh_from_db()
    assert route_run.wait_reason.startswith("Exact Online unavailable") and route_run.waiting_until > timezone.now()
    assert not ErrorBudget.objects.filter(client=granted_client, errors__gt=0).exists()  # an outage costs no budget

    Task.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert publish.publish_batch(route_run, ids) == {"finished": 4}
    refs = {route_run.route.outgoing.idempotency_reference("", pk) for pk in ids}
    seen: Counter[str] = Counter()
    for page in api_for(granted_client).iter_pages("crm/Accounts", division=division,
                                                   params={"$select": "SearchCode",
                                                           "$filter": "startswith(Name,'Outage test')"}):
        seen.update(row["SearchCode"] for row in page.results if row.get("SearchCode") in refs)
    assert seen == Counter(dict.fromkeys(refs, 1))  # every task once in Exact, the dropped write too


def test_a_call_that_never_left_gives_its_quota_slot_back(granted_client):
    """Exact counts nothing it never received: an outage retried every 30 s must not use up the division's day."""
    from exact_online.quota import InMemoryQuotaStore

    store = InMemoryQuotaStore()
    granted_client.config["base_url"] = f"http://127.0.0.1:{_closed_port()}"  # nothing listens: refused
    api = api_for(granted_client, quota_store=store)
    for _ in range(3):
        with pytest.raises(errors.Unavailable) as caught:
            api.get("crm/Accounts", division=101002, params={"$select": "ID", "$top": "1"})
        assert errors.is_outage(caught.value)
    state = store._states[101002]
    assert state["d_used"] == 0 and state["m_used"] == 0  # reserved three times, given back three times
