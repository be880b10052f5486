"""The shared limiter: a call is reserved before it is sent; without a slot a worker is told until when
(``QuotaWait``) instead of sleeping, a plain-shell caller may wait; a 429 parks the division until the reset."""

from __future__ import annotations

import time

import pytest

from exact_online.client_type import api_for
from exact_online.models import QuotaState
from exact_online.quota import parse_rate_limits, wait_after_429
from tests.clients.oauth_helpers import grant, sandbox_client

pytestmark = pytest.mark.django_db


def test_headers_are_parsed_from_epoch_milliseconds():
    limits = parse_rate_limits({"x-ratelimit-minutely-remaining": "0", "X-RateLimit-Minutely-Reset": "1638447360000",
                                "X-RateLimit-Limit": "5000"})
    assert limits.minutely_remaining == 0 and limits.daily_limit == 5000
    assert limits.minutely_reset.isoformat() == "2021-12-02T12:16:00+00:00"
    assert 2 <= wait_after_429({}, 1_800_000_000.0) - 60 <= 5  # no headers: next minute + jitter
    assert wait_after_429({"X-RateLimit-Minutely-Remaining": "0", "X-RateLimit-Minutely-Reset": "1000"},
                          1_800_000_000.0) < 2  # a reset in the past (clock skew) is clamped, not negative


def test_callers_wait_for_the_next_window_instead_of_getting_429(editor_client, sandbox_factory, settings):
    sandbox = sandbox_factory(SANDBOX_TIME_SCALE="60")  # a minute lasts one second
    settings.EXACT_QUOTA_MINUTE_SECONDS = 1.0
    client, app = sandbox_client(sandbox, log=False)
    grant(editor_client, client, sandbox, app)
    sandbox.set_limits(minutely=4, reset_counters=True)
    api = api_for(client, max_wait=60.0)  # a plain-shell caller may choose to wait
    started = time.monotonic()
    for _ in range(12):
        api.get("crm/Accounts", division=101001, params={"$select": "ID", "$top": "1"})
    elapsed = time.monotonic() - started
    counters = sandbox.counters()
    assert counters["requests_by_status"].get("429", 0) == 0, counters
    assert elapsed >= 1.0  # 12 calls at 4 per (scaled) one-second minute: two window boundaries crossed
    state = QuotaState.objects.get(client=client, division=101001)
    assert state.minutely_limit == 4 and state.daily_limit


def test_a_429_storm_waits_for_the_reset_and_succeeds(editor_client, sandbox_factory, settings):
    sandbox = sandbox_factory(SANDBOX_TIME_SCALE="60")
    settings.EXACT_QUOTA_MINUTE_SECONDS = 1.0
    client, app = sandbox_client(sandbox, log=False)
    grant(editor_client, client, sandbox, app)
    sandbox.set_faults({"path": "crm/Accounts", "throttle_rate": 1, "times": 2})
    body = api_for(client, max_wait=60.0).get("crm/Accounts", division=101001, params={"$select": "ID", "$top": "1"})
    assert "results" in body["d"]
    assert sandbox.counters()["requests_by_status"].get("429") == 2
    assert QuotaState.objects.get(client=client, division=101001).throttled_count == 2
