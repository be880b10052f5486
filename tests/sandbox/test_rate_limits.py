"""Limits like Exact's (API.md §8): per app per division, X-RateLimit-* headers in epoch ms, 429 when exceeded."""

from __future__ import annotations

import time

import requests

from tests.sandbox.conftest import connect

MINUTELY = ("X-RateLimit-Minutely-Limit", "X-RateLimit-Minutely-Remaining", "X-RateLimit-Minutely-Reset")
DAILY = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def test_minutely_limit_hit(sandbox) -> None:
    api = connect(sandbox, "minutely")
    sandbox.set_limits(apps={api.app["client_id"]: {"minutely": 3, "daily": 1000}})
    remaining = []
    for _ in range(3):
        ok = api.get("crm/Accounts?$select=ID&$top=1")
        assert ok.status_code == 200
        assert all(h in ok.headers for h in MINUTELY + DAILY)
        remaining.append(int(ok.headers["X-RateLimit-Minutely-Remaining"]))
        assert ok.headers["X-RateLimit-Minutely-Limit"] == "3"
        assert ok.headers["X-RateLimit-Limit"] == "1000"
    assert remaining == [2, 1, 0]
    reset_ms = int(ok.headers["X-RateLimit-Minutely-Reset"])
    now_ms = time.time() * 1000
    assert now_ms < reset_ms <= now_ms + 60_000  # epoch milliseconds on the client's clock
    offset_ms = int(sandbox.advance_clock(0)["offset"] * 1000)  # other tests may have moved the sandbox clock
    assert (reset_ms + offset_ms) % 60_000 == 0  # minute-aligned
    assert (int(ok.headers["X-RateLimit-Reset"]) + offset_ms) % 86_400_000 == 0  # UTC midnight

    refused = api.get("crm/Accounts?$select=ID&$top=1")
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Minutely-Remaining"] == "0"
    assert not any(h in refused.headers for h in DAILY)  # a minutely 429 carries only the minutely headers
    # Another division has its own bucket.
    other = api.get(f"{api.base}/api/v1/{sandbox.divisions[1]}/crm/Accounts?$select=ID&$top=1")
    assert other.status_code == 200
    assert sandbox.counters()["requests_by_status"].get("429", 0) >= 1


def test_daily_limit_hit(sandbox) -> None:
    api = connect(sandbox, "daily")
    sandbox.set_limits(apps={api.app["client_id"]: {"minutely": 100, "daily": 2}})
    assert api.get("crm/Accounts?$select=ID&$top=1").status_code == 200
    assert api.get(f"{api.base}/api/v1/current/Me").status_code == 200
    refused = api.get("crm/Accounts?$select=ID&$top=1")
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert not any(h in refused.headers for h in MINUTELY)


def test_limits_read_back_and_per_app_overrides_merge(sandbox_factory) -> None:
    box = sandbox_factory()
    defaults = box.set_limits()
    assert (defaults["minutely"], defaults["daily"], defaults["token_daily"]) == (60, 5000, 200)
    assert defaults["page_sizes"] == {"standard": 60, "bulk": 1000}
    box.set_limits(apps={"app-a": {"minutely": 5}})
    merged = box.set_limits(apps={"app-b": {"daily": 7}})
    assert merged["apps"] == {"app-a": {"minutely": 5}, "app-b": {"daily": 7}}
    assert box.set_limits(apps={"app-a": None})["apps"] == {"app-b": {"daily": 7}}


def test_error_budget_blocks_an_endpoint_for_an_hour(sandbox_factory) -> None:
    box = sandbox_factory(SANDBOX_ERROR_BUDGET="3")
    api = connect(box, "careless")
    statuses = [api.post("crm/Accounts", {"City": "no name"}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 400]  # the fourth error goes over the budget of three
    blocked = api.post("crm/Accounts", {"Name": "fine now"})
    assert blocked.status_code == 429
    assert blocked.headers["Reason"] == "ErrorLimitExceeded"
    assert api.get("logistics/Items?$select=ID&$top=1").status_code == 200  # other endpoints still work
    box.advance_clock(3601)  # an hour later (the access token expired too: refresh it)
    fresh = requests.post(f"{box.url}/api/oauth2/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": api.token["refresh_token"],
        "client_id": api.app["client_id"], "client_secret": api.app["client_secret"]}).json()
    api.session.headers["Authorization"] = f"Bearer {fresh['access_token']}"
    assert api.post("crm/Accounts", {"Name": "fine now"}).status_code == 201
