"""Acceptance: Exact Online webhooks end to end against the sandbox.

Subscribe from the client page; 50 accounts change in the sandbox (10 of them 5 times in a row, by another
app): the signed events reach our hook over HTTP, bursts are coalesced, and the target receives each changed
account once, in at most 60 API calls in all. A reconciliation read right after delivers nothing twice.
With webhook delivery switched off in the sandbox, the reconciliation read (the route's incremental sync)
still delivers all 50 changes, and the webhook page counts 50 by webhook and 50 only by reconciliation.
Processing runs in this process (``drain``, ``fetch_changes``, ``publish_batch``: what the workers run).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from connections.flow import routing
from connections.models import Incoming, Outgoing, RouteRun, Task
from exact_online.models import ExactChange
from exact_online.webhooks import change_counts, fetch_changes, webhook_for
from tests.connections.routes.conftest import SCRIPT, script  # noqa: F401  (the fake target)
from tests.fixtures.sandbox import grant_client
from webhooks.models import Delivery
from webhooks.processing import drain


def _changer(box, division: int) -> tuple[requests.Session, list[str]]:
    """Another app of the same administration, changing accounts through Exact's API."""
    app, token = box.connect("someone else's app")
    limits = box.http.get(f"{box.url}/sandbox/api/limits", headers=box.control_headers, timeout=10).json().get(
        "apps", {})
    box.set_limits(apps={**limits, app["client_id"]: {"minutely": 1_000_000, "daily": 10_000_000}})
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})
    rows = session.get(f"{box.url}/api/v1/{division}/crm/Accounts", params={"$select": "ID", "$top": "60"},
                       timeout=30).json()["d"]["results"]
    return session, [row["ID"] for row in rows]


def _change(box, session: requests.Session, division: int, key: str, text: str) -> None:
    response = session.put(f"{box.url}/api/v1/{division}/crm/Accounts(guid'{key}')", json={"City": text},
                           timeout=30)
    assert response.status_code == 204, response.text


def _our_calls(box, client_id: str) -> int:
    return sum(1 for row in box.requests_log()
               if row.get("client_id") == client_id and row["path"].startswith("/api/v1"))


def _publish_webhook_runs() -> None:
    for route_run in RouteRun.objects.filter(status=RouteRun.Status.PUBLISHING):
        ids = list(Task.objects.filter(run=route_run.run, status=Task.Status.NEW).values_list("pk", flat=True))
        routing.publish_batch(route_run, ids)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_exact_webhooks_end_to_end(sandbox_factory, live_server, settings, editor_client, script):  # noqa: F811
    settings.SITE_URL = live_server.url  # the callback Exact (the sandbox) posts to
    box = sandbox_factory()
    division = box.divisions[0]
    client = grant_client(box, "Exact with webhooks", unlimited=True)
    incoming = Incoming.objects.create(
        name="Changed accounts", subscriber="exact_online", http_client=client, incremental=True,
        config={"entity": "crm/Accounts", "divisions": "selected", "division_codes": [division]},
        query={"$select": "ID,Name,City"})
    outgoing = Outgoing.objects.create(name="Target", publisher="fake", entity="crm/Accounts", http_client=client)
    route = routing.Route.objects.create(name="Accounts to the target", incoming=incoming, outgoing=outgoing,
                                         schedule_kind="interval", interval_seconds=900)
    routing.run_inline(route)  # the first incremental read: everything there is, and the cursor
    session, keys = _changer(box, division)
    script.jobs.clear()
    calls_before = _our_calls(box, client.config["client_id"])

    # --- subscribe from the client page; Exact validates the callback with an empty POST --------------------
    response = editor_client.post(reverse("exact_online:webhooks_subscribe", args=[client.pk]),
                                  {"topics": ["Accounts"], "divisions": [str(division)]}, follow=True)
    assert "Accounts in" in response.content.decode() and "subscribed" in response.content.decode()
    hook = webhook_for(client)
    assert hook is not None and [s["topic"] for s in hook.config["subscriptions"]] == ["Accounts"]
    page = editor_client.get(client.get_absolute_url()).content.decode()
    assert 'data-testid="webhook-subscriptions"' in page and hook.url in page
    _wait_for(lambda: any(d["kind"] == "validation" and d["status"] == 200 for d in box.webhook_log()))
    route.webhook = hook
    route.save()

    # --- 50 accounts change, 10 of them 5 times in a row ----------------------------------------------------
    changed = keys[:50]
    for key in changed[:40]:
        _change(box, session, division, key, "once")
    for key in changed[40:]:
        for n in range(5):
            _change(box, session, division, key, f"burst {n}")
    _wait_for(lambda: Delivery.objects.filter(webhook=hook).count() >= 90)
    assert Delivery.objects.filter(webhook=hook).count() == 90

    while drain(hook.pk):
        pass
    assert Counter(Delivery.objects.filter(webhook=hook).values_list("status", flat=True)) == {"processed": 90}
    fetch_changes(hook.pk, now=timezone.now() + timedelta(seconds=30))
    _publish_webhook_runs()
    received = Counter(job.source_id for job in script.jobs)
    assert set(received) == set(changed) and set(received.values()) == {1}  # each change once
    burst = ExactChange.objects.get(webhook=hook, key=changed[45])
    assert burst.events == 5 and burst.status == ExactChange.Status.DONE
    assert {job.payload.get("City") for job in script.jobs if job.source_id == changed[45]} <= {None, "burst 4"}

    routing.run_inline(route)  # reconciliation right after: every version was delivered by webhook already
    assert len(script.jobs) == 50
    calls = _our_calls(box, client.config["client_id"]) - calls_before
    assert calls <= 60, calls

    # --- webhooks off: the reconciliation read still delivers every change ----------------------------------
    box.set_webhook_delivery(enabled=False)
    for key in changed:
        _change(box, session, division, key, "while webhooks were off")
    time.sleep(1)
    assert Delivery.objects.filter(webhook=hook).count() == 90
    script.jobs.clear()
    routing.run_inline(route)
    assert Counter(job.source_id for job in script.jobs) == Counter(changed)
    (counts,) = change_counts(hook)
    assert (counts["webhook"], counts["reconciliation"]) == (50, 50)
    page = editor_client.get(hook.get_absolute_url()).content.decode()
    assert 'data-testid="by-reconciliation">50<' in page and 'data-testid="by-webhook">50<' in page
