"""The error-budget guard in ExactApi with the in-memory store and a scripted transport (FIELD-NOTES B5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from exact_online import errors
from exact_online.api import ExactApi
from exact_online.error_budget import (
    WINDOW,
    ErrorBudgetGuard,
    ErrorBudgetPolicy,
    InMemoryErrorBudgetStore,
    endpoint_of,
)
from exact_online.oauth import GrantStore
from exact_online.transport import Sent, Transport

HOUR = 1_800_000_000.0 - 1_800_000_000.0 % WINDOW  # the start of a clock hour
BAD = {"error": {"code": "", "message": {"lang": "", "value": "Mandatory: Name"}}}
OK = {"d": {"results": [{"ID": 1}]}}


def response(status: int, body: Any) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode()
    r.headers.update({"Content-Type": "application/json"})
    r.url = "https://x"
    return r


class Fake(Transport):
    """Answers by endpoint: a status per path fragment (default 200), and counts what reached 'Exact'."""

    def __init__(self, statuses: dict[str, int]) -> None:
        super().__init__()
        self.statuses = statuses
        self.sent: list[str] = []

    def send(self, method, url, **kwargs):  # type: ignore[override]
        self.sent.append(url)
        status = next((s for fragment, s in self.statuses.items() if fragment in url), 200)
        return Sent(response=response(status, OK if status < 300 else BAD), sent_at=0.0, received_at=0.0,
                    elapsed_ms=1.0)


class Grants(GrantStore):
    def access_token(self) -> str:
        return "t"

    def after_unauthorized(self, used_token: str) -> str:
        return "t"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(answers: dict[str, int], *, store: InMemoryErrorBudgetStore | None = None, start: float = HOUR + 60,
         **policy: Any) -> tuple[ExactApi, Fake, Clock]:
    clock, fake = Clock(start), Fake(answers)
    budget = ErrorBudgetGuard(store or InMemoryErrorBudgetStore(), ErrorBudgetPolicy(**policy), clock=clock)
    api = ExactApi(base_url="https://start.exactonline.nl", grant_store=Grants(), transport=fake, clock=clock,
                   sleep=lambda s: None, error_budget=budget)
    return api, fake, clock


def hammer(api: ExactApi, path: str, times: int, method: str = "GET") -> list[type[Exception] | None]:
    outcomes: list[type[Exception] | None] = []
    for _ in range(times):
        try:
            api.request(method, path, division=7, json={"Name": ""} if method == "POST" else None)
            outcomes.append(None)
        except errors.ExactError as exc:
            outcomes.append(type(exc))
    return outcomes


def test_endpoint_drops_key_query_host_and_division():
    assert endpoint_of("crm/Accounts(guid'0f0e')?$select=ID") == "crm/Accounts"
    assert endpoint_of("https://start.exactonline.nl/api/v1/123/crm/Accounts?$skiptoken=guid'x'") == "crm/Accounts"
    assert endpoint_of("/api/v1/{division}/system/Divisions") == "system/Divisions"
    assert endpoint_of("beta/budget/BudgetScenarios") == "budget/BudgetScenarios"
    assert endpoint_of("current/Me") == "current/Me"


def test_three_400s_in_a_row_open_the_circuit_without_calling_exact():
    api, fake, _ = make({"crm/Accounts": 400})
    outcomes = hammer(api, "crm/Accounts", 10, method="POST")
    assert outcomes[:3] == [errors.ValidationError] * 3
    assert outcomes[3:] == [errors.CircuitOpen] * 7
    assert len(fake.sent) == 3
    with pytest.raises(errors.CircuitOpen) as info:
        api.request("GET", "crm/Accounts(guid'x')?$select=ID", division=7)
    error = info.value
    assert error.permanent and error.status is None
    assert error.endpoint == "crm/Accounts" and error.division == 7 and error.errors == 3
    assert error.until == HOUR + WINDOW  # the default cooldown lasts until the hour's window ends
    assert "crm/Accounts in division 7" in error.message and "3 client errors" in error.message
    assert "HTTP 400" in error.message


def test_other_endpoints_and_divisions_still_work_while_one_is_open():
    api, fake, _ = make({"/7/crm/Accounts": 400})
    hammer(api, "crm/Accounts", 5, method="POST")
    assert api.request("GET", "crm/Contacts", division=7).status == 200
    assert api.request("GET", "crm/Accounts", division=8).status == 200
    assert len(fake.sent) == 5  # 3 refused by Exact + the two other calls


def test_a_success_closes_the_consecutive_run_but_the_hour_caps_errors_at_five():
    api, fake, _ = make({"Accounts(": 404})  # lookups by key fail, listing works: same endpoint
    sent_errors = 0
    for _ in range(20):
        for path in ("crm/Accounts(guid'x')", "crm/Accounts"):
            try:
                api.request("GET", path, division=7)
            except errors.NotFound:
                sent_errors += 1
            except errors.CircuitOpen:
                pass
    assert sent_errors == 5
    assert sum(1 for url in fake.sent if "Accounts(" in url) == 5


def test_the_circuit_half_opens_after_the_cooldown_and_the_next_hour_starts_fresh():
    api, fake, clock = make({"crm/Accounts": 400}, cooldown=60)
    hammer(api, "crm/Accounts", 4, method="POST")
    assert len(fake.sent) == 3
    clock.now += 61  # cooldown over: one probe goes out, fails, and the circuit opens again at once
    assert hammer(api, "crm/Accounts", 3, method="POST") == [errors.ValidationError] + [errors.CircuitOpen] * 2
    assert len(fake.sent) == 4
    clock.now += 61
    assert hammer(api, "crm/Accounts", 1, method="POST") == [errors.ValidationError]  # 5th error: hour closed
    clock.now += 61
    assert hammer(api, "crm/Accounts", 2, method="POST") == [errors.CircuitOpen] * 2
    assert len(fake.sent) == 5
    clock.now = HOUR + WINDOW + 1  # the next window: a probe again
    fake.statuses = {}
    assert hammer(api, "crm/Accounts", 3, method="POST") == [None, None, None]


def test_only_exacts_counted_statuses_cost_budget():
    api, fake, _ = make({"crm/Accounts": 500, "crm/Contacts": 409})
    # A validation text sent as HTTP 500 is the caller's fault, but Exact's budget counts 400/401/403/404 only.
    assert set(hammer(api, "crm/Accounts", 6, method="POST")) == {errors.ValidationError}
    assert set(hammer(api, "crm/Contacts", 6, method="POST")) == {errors.ValidationError}  # 409 is not counted
    assert len(fake.sent) == 12


def test_counted_statuses_are_configurable():
    api, fake, _ = make({"crm/Contacts": 409, "crm/Accounts": 500},
                        statuses=frozenset({409, 500}))
    assert hammer(api, "crm/Contacts", 5, method="POST")[3:] == [errors.CircuitOpen] * 2
    assert hammer(api, "crm/Accounts", 5, method="POST")[3:] == [errors.CircuitOpen] * 2  # validation 500s
    assert len(fake.sent) == 6


def test_a_401_counts_only_after_the_refresh_retry():
    api, fake, _ = make({"crm/Accounts": 401})
    outcomes = hammer(api, "crm/Accounts", 5)
    assert outcomes == [errors.Unauthorized] * 3 + [errors.CircuitOpen] * 2
    # each call: the 401, one refresh-and-retry, one retry after a backoff (a 401 on a fresh token is a blip)
    assert len(fake.sent) == 9


def test_processes_sharing_a_store_share_the_circuit():
    store = InMemoryErrorBudgetStore()
    first, fake_a, _ = make({"crm/Accounts": 400}, store=store)
    second, fake_b, _ = make({"crm/Accounts": 400}, store=store)
    hammer(first, "crm/Accounts", 2, method="POST")
    hammer(second, "crm/Accounts", 3, method="POST")
    assert len(fake_a.sent) + len(fake_b.sent) == 3


def test_plain_shell_api_has_a_guard_by_default():
    fake = Fake({"crm/Accounts": 400})
    api = ExactApi(base_url="https://start.exactonline.nl", grant_store=Grants(), transport=fake)
    assert hammer(api, "crm/Accounts", 4, method="POST")[-1] is errors.CircuitOpen
    assert len(fake.sent) == 3


def test_an_unreachable_exact_burns_no_error_budget():
    """The sandbox (or Exact) down for minutes: connection errors and 5xx never open the circuit."""
    guard = ErrorBudgetGuard(store=InMemoryErrorBudgetStore(), policy=ErrorBudgetPolicy(), clock=lambda: HOUR + 60)
    for error in [errors.Unavailable("connection refused", status=None)] * 20 + [
            errors.Unavailable("502 Bad Gateway", status=502)] * 5:
        seen = guard.check("crm/Accounts", 7)
        guard.record("crm/Accounts", 7, error, seen)
    guard.check("crm/Accounts", 7)  # raises CircuitOpen if the outage had been counted
