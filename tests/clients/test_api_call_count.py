"""The dashboard's API-call figure is every call a client made: it equals the sandbox's own count of requests
for the same period (reads, a lookup, a connection test, a token refresh and a retried call)."""

from __future__ import annotations

import contextlib

import pytest

from clients.models import ApiCallCount
from clients.panels import api_usage
from clients.registry import get_client_type
from clients.usage import count_call, flush, total_calls
from connections.flow.read import execute_incoming_run
from connections.models import Incoming, Run
from exact_online.client_type import ExactLookup, api_for
from exact_online.errors import ExactError


def _sandbox_calls(box) -> int:
    return int(box.counters()["counters"].get("api_requests", 0))


@pytest.mark.django_db
def test_the_dashboard_counts_every_call_the_sandbox_saw(sandbox, granted_client, admin_client):
    division = sandbox.divisions[0]
    flush()  # what earlier tests counted in this process
    sandbox._control("DELETE", "counters")
    ApiCallCount.objects.all().delete()

    incoming = Incoming.objects.create(name="count accounts", subscriber="exact_online", http_client=granted_client,
                                       config={"entity": "crm/Accounts", "divisions": "selected",
                                               "division_codes": [division], "endpoint": "auto"})
    run, _ = Run.enqueue(incoming)
    execute_incoming_run(run.pk)  # reads (one or more pages)
    ExactLookup().lookup(granted_client, {"path": "crm/Accounts", "query": {"$top": "1", "$select": "ID"}})
    get_client_type("exact_online").test_connection(granted_client)
    api = api_for(granted_client, backoff=0.01, max_attempts=2)  # a shell's retry (a worker's api makes one attempt)
    with contextlib.suppress(ExactError):  # a token call (refused: the token is too young) counts all the same
        api.grant_store.after_unauthorized(api.grant_store.access_token())
    sandbox.set_faults({"path": "logistics/Items", "error_rate": 1, "error_status": 503, "times": 1})
    try:
        api.get("logistics/Items", division=division, params={"$top": "1", "$select": "ID"})  # 503, then retried
    finally:
        sandbox.clear_faults()

    seen_by_sandbox = _sandbox_calls(sandbox)
    assert seen_by_sandbox >= 6
    usage = api_usage()
    assert usage["total"] == seen_by_sandbox
    assert usage["chart_total"] == seen_by_sandbox
    assert {row["division"] for row in usage["rows"]} >= {division, 0}  # token and current/Me calls: no division
    page = admin_client.get("/").content.decode()
    assert f'data-testid="api-calls-today">{seen_by_sandbox}<' in page
    assert f'data-testid="runs-api-calls">{seen_by_sandbox} API calls' in page


@pytest.mark.django_db
def test_calls_are_kept_per_client_division_and_hour(granted_client):
    flush()
    ApiCallCount.objects.all().delete()
    for _ in range(3):
        count_call(granted_client.pk, 101001)
    count_call(granted_client.pk, None)
    assert flush() == 4
    assert ApiCallCount.objects.get(division=101001).calls == 3
    assert ApiCallCount.objects.get(division=0).calls == 1
    from django.utils import timezone

    assert total_calls(timezone.now()) == 4


@pytest.mark.django_db
def test_counts_inside_a_transaction_wait_for_its_end(granted_client):
    from django.db import transaction

    flush()
    ApiCallCount.objects.all().delete()
    with transaction.atomic():
        count_call(granted_client.pk, 7)
        assert flush() == 0  # a rollback would lose them
    assert flush() == 1
    assert ApiCallCount.objects.get(division=7).calls == 1
