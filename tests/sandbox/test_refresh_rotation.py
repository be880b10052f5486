"""Refresh like Exact's (API.md §2.3): rotation, "Old refresh token used", TooEarlyToRefreshTokens, expiry.

These tests run their own sandbox at a time scale of 300: the 600 s access token lives 2 s and a refresh is
allowed after 1.9 s, so the real clock does the work (with margin for a loaded machine).
"""

from __future__ import annotations

import pytest
import requests

REDIRECT = "http://localhost/callback"


@pytest.fixture
def fast(sandbox_factory):
    return sandbox_factory(SANDBOX_TIME_SCALE="300")


def _refresh(box, app, refresh_token):
    return requests.post(f"{box.url}/api/oauth2/token", data={
        "refresh_token": refresh_token, "grant_type": "refresh_token", "client_id": app["client_id"],
        "client_secret": app["client_secret"]}, timeout=10)


def _me(box, token):
    return requests.get(f"{box.url}/api/v1/current/Me", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})


def test_rotation_and_both_refusals(fast) -> None:
    app, first = fast.connect("rotation", REDIRECT)
    assert first["expires_in"] == "2"  # 600 s divided by the time scale

    too_early = _refresh(fast, app, first["refresh_token"])
    assert too_early.status_code == 400
    assert too_early.json() == {"error": "access_denied",
                                "error_description": "Rate limit exceeded: access_token not expired"}
    assert too_early.headers["Reason"].startswith("TooEarlyToRefreshTokens")

    fast.advance_clock(2.05)  # the 2 s token expires (the sandbox clock; no waiting)
    expired = _me(fast, first)
    assert expired.status_code == 401
    assert "access%20token%20expired" in expired.headers["WWW-Authenticate"]

    rotated = _refresh(fast, app, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert _me(fast, second).status_code == 200

    fast.advance_clock(2.0)
    old = _refresh(fast, app, first["refresh_token"])
    assert old.status_code == 401
    assert old.json() == {"error": "unauthorized_client", "error_description": "Old refresh token used."}
    # The refusal does not break the chain: the newest refresh token still works.
    third = _refresh(fast, app, second["refresh_token"])
    assert third.status_code == 200

    counters = fast.counters()
    assert counters["refresh_refusals"]["too_early"] == 1
    assert counters["refresh_refusals"]["old_refresh_token"] == 1
    assert counters["token_calls"] == 5  # 1 code exchange + 4 refresh attempts


def test_unused_refresh_token_expires_after_30_days(sandbox_factory) -> None:
    box = sandbox_factory()
    app, token = box.connect("expiry", REDIRECT)
    box.advance_clock(31 * 86400)
    refused = _refresh(box, app, token["refresh_token"])
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith("The refresh token expired at ")
    assert " and it is now " in body["error_description"]


def test_codes_expire_after_three_minutes(sandbox_factory) -> None:
    box = sandbox_factory()
    app = box.register_app("code expiry", REDIRECT)
    code = box.authorize(app["client_id"], REDIRECT)
    box.advance_clock(181)
    response = requests.post(f"{box.url}/api/oauth2/token", data={
        "code": code, "redirect_uri": REDIRECT, "grant_type": "authorization_code", "client_id": app["client_id"],
        "client_secret": app["client_secret"]}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_lost_token_response_leaves_the_client_with_an_old_token(fast) -> None:
    """The lost-response hazard (API.md §2.3): Exact issued a pair the client never received."""
    app, first = fast.connect("lost response", REDIRECT)
    fast.advance_clock(2.0)
    fast.set_faults({"path": "oauth2/token", "drop_rate": 1, "times": 1})
    with pytest.raises(requests.ConnectionError):
        _refresh(fast, app, first["refresh_token"])
    retried = _refresh(fast, app, first["refresh_token"])
    assert retried.status_code == 401
    assert retried.json()["error_description"] == "Old refresh token used."
    assert fast.counters()["counters"]["tokens_refreshed"] == 1
