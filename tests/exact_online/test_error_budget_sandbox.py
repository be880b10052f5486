"""The error-budget guard against a sandbox of its own that refuses one endpoint with HTTP 400 (FIELD-NOTES B5).

The sandbox also enforces Exact's own budget (10 errors per app, division, endpoint and hour block the key),
so a guard that leaked errors would see the endpoint blocked there as well.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from connections.models import Task
from exact_online import errors
from exact_online.client_type import api_for, open_error_circuits
from exact_online.models import ErrorBudget
from tests.connections.routes.sandbox_support import copy_route, run_inline
from tests.fixtures.sandbox import grant_client


def calls_to(box, endpoint: str, division: int, method: str | None = None) -> int:
    return sum(1 for row in box.requests_log()
               if row["path"].endswith(f"/{division}/{endpoint}") and (method is None or row["method"] == method))


@pytest.fixture
def box(sandbox_factory):
    return sandbox_factory(SANDBOX_ERROR_BUDGET="10")


def hammer(api, path: str, division: int, times: int) -> list[type[Exception] | None]:
    outcomes: list[type[Exception] | None] = []
    for _ in range(times):
        try:
            api.request("GET", path, division=division, params={"$select": "ID"})
            outcomes.append(None)
        except errors.ExactError as exc:
            outcomes.append(type(exc))
    return outcomes


@pytest.mark.django_db
def test_an_endpoint_that_always_fails_reaches_exact_at_most_five_times(box):
    division = box.divisions[0]
    client = grant_client(box, "budget", unlimited=True)
    box.set_faults({"path": f"/{division}/crm/Contacts", "error_rate": 1, "error_status": 400})

    first = hammer(api_for(client), "crm/Contacts", division, 8)
    second = hammer(api_for(client), "crm/Contacts", division, 8)  # another process: the state is in the database

    assert first[:3] == [errors.ValidationError] * 3
    assert set(first[3:] + second) == {errors.CircuitOpen}
    assert calls_to(box, "crm/Contacts", division) == 3
    row = ErrorBudget.objects.get(client=client, division=division, endpoint="crm/Contacts")
    assert (row.errors, row.consecutive, row.last_status) == (3, 3, 400)
    assert api_for(client).get("crm/Accounts", division=division, params={"$select": "ID"})["d"]["results"]
    assert api_for(client).get("crm/Contacts", division=box.divisions[1], params={"$select": "ID"})["d"] is not None
    shown = open_error_circuits(client)
    assert [(c["endpoint"], c["division"], c["errors"]) for c in shown] == [("crm/Contacts", division, 3)]


@pytest.mark.django_db
@override_settings(DASH_ERROR_BUDGET_CONSECUTIVE=100)
def test_the_hourly_cap_holds_when_successes_interleave(box):
    """Lookups by key fail, the listing works: the run of errors keeps closing, the hour's five still hold."""
    division = box.divisions[0]
    client = grant_client(box, "budget-hourly", unlimited=True)
    box.set_faults({"path": r"crm/Contacts\(", "error_rate": 1, "error_status": 404})
    api = api_for(client)
    lookups, listings = [], []
    for _ in range(8):
        lookups += hammer(api, "crm/Contacts(guid'00000000-0000-0000-0000-000000000001')", division, 1)
        listings += hammer(api, "crm/Contacts", division, 1)
    assert lookups == [errors.NotFound] * 5 + [errors.CircuitOpen] * 3
    assert listings == [None] * 4 + [errors.CircuitOpen] * 4  # the endpoint is paused as a whole
    assert sum(1 for row in box.requests_log() if "crm/Contacts(" in row["path"]) == 5
    assert api.get("crm/Accounts", division=division, params={"$select": "ID"})["d"]["results"]


@pytest.mark.django_db
def test_a_route_fails_tasks_permanently_once_the_circuit_opens(box):
    source, target = box.divisions
    client = grant_client(box, "budget-route", unlimited=True)
    box.set_faults({"path": f"/{target}/crm/Accounts", "method": "POST", "error_rate": 1, "error_status": 400})
    route = copy_route(client, source, target, name="budget copy")
    run = run_inline(route, rounds=3)

    tasks = list(Task.objects.filter(run_id=run.run_id))
    assert len(tasks) > 5
    assert {t.status for t in tasks} == {Task.Status.FAILED}  # none waits for a retry
    refused = [t for t in tasks if "Not sent to Exact Online" in t.error]
    assert len(refused) == len(tasks) - 3  # three creates in a row refused by Exact open the circuit
    assert all("crm/Accounts in division" in t.error and "paused until" in t.error for t in refused)
    assert all("Failed (permanent error): Not sent" in str(t.log[-1]) for t in refused)
    assert calls_to(box, "crm/Accounts", target, method="POST") == 3
