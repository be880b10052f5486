"""An Exact look-up in a transformer chain never sleeps in the worker: a used-up quota (a 429) or an outage
(503, no answer) raises ``WaitUntil`` at once, with the reset (or the outage wait) and the reason; the page being
read or the batch being published waits for it. A refusal is still a failed look-up."""

from __future__ import annotations

import time

import pytest

from clients.registry import LookupFailed
from connections.waits import WaitUntil
from exact_online.client_type import ExactLookup

pytestmark = pytest.mark.django_db

REQUEST = {"method": "GET", "path": "crm/Accounts", "query": {"$select": "ID", "$top": "1"}}


def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # api_for's default sleep, looked up at call time
    return slept


def test_a_lookup_answered_429_waits_for_the_reset_instead_of_sleeping(granted_client, sandbox, monkeypatch):
    slept = _no_sleep(monkeypatch)
    sandbox.set_faults({"path": "crm/Accounts", "throttle_rate": 1, "times": 1})
    started = time.time()
    try:
        with pytest.raises(WaitUntil) as caught:
            ExactLookup().lookup(granted_client, REQUEST)
    finally:
        sandbox.clear_faults()
    wait = caught.value
    assert "Exact Online" in wait.reason and granted_client.name in wait.reason
    assert wait.until.timestamp() > started and not wait.counted
    assert slept == []  # before: up to 20 s asleep in the worker, then the call again


def test_a_lookup_meeting_an_outage_waits_for_exact_and_costs_no_attempt(granted_client, sandbox, monkeypatch,
                                                                          settings):
    slept = _no_sleep(monkeypatch)
    settings.EXACT_OUTAGE_WAIT = 30.0
    sandbox.set_faults({"path": "crm/Accounts", "error_rate": 1, "error_status": 503, "times": 1})
    started = time.time()
    try:
        with pytest.raises(WaitUntil) as caught:
            ExactLookup().lookup(granted_client, REQUEST)
    finally:
        sandbox.clear_faults()
    wait = caught.value
    assert "unavailable" in wait.reason and "HTTP 503" in wait.reason
    assert started + 29 <= wait.until.timestamp() <= time.time() + 37  # DASH_EXACT_OUTAGE_WAIT, jittered
    assert wait.counted is False and slept == []


def test_a_refused_lookup_still_fails(granted_client, sandbox, monkeypatch):
    _no_sleep(monkeypatch)
    sandbox.set_faults({"path": "crm/Accounts", "error_rate": 1, "error_status": 400, "times": 1})
    try:
        with pytest.raises(LookupFailed) as caught:
            ExactLookup().lookup(granted_client, REQUEST)
    finally:
        sandbox.clear_faults()
    assert not caught.value.transient
