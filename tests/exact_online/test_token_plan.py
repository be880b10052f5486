"""The refresh window (API.md §2.3): never before 570/600 of a token's life, never send a token about to die."""

from __future__ import annotations

import pytest

from exact_online.oauth import REFRESH_FLOOR_FRACTION, Token, plan


def token(expires_in: float, *, issued: float = 1000.0, round_trip: float = 0.0) -> Token:
    return Token("a", "r", expires_in, issued_at=issued, expires_at=issued - round_trip + expires_in)


@pytest.mark.parametrize("expires_in", [600.0, 10.0, 2.0])
def test_use_until_the_window_opens(expires_in):
    t = token(expires_in)
    assert plan(t, t.issued_at) == ("use", 0.0)
    assert plan(t, min(t.refresh_opens_at, t.send_deadline) - 0.001)[0] == "use"
    assert t.send_deadline <= t.expires_at - 0.25  # never sent in a token's last quarter second


@pytest.mark.parametrize("expires_in", [600.0, 10.0, 2.0])
def test_refresh_once_the_window_is_open_never_before_the_floor(expires_in):
    t = token(expires_in)
    assert t.refresh_opens_at >= t.issued_at + expires_in * REFRESH_FLOOR_FRACTION
    assert t.refresh_opens_at < t.expires_at
    assert plan(t, t.refresh_opens_at) == ("refresh", 0.0)
    assert plan(t, t.expires_at + 3600) == ("refresh", 0.0)  # long idle: refresh at once


def test_real_exact_window_is_570_to_600_seconds():
    t = token(600.0)
    assert 570 <= t.refresh_opens_at - t.issued_at <= 575
    assert plan(t, t.issued_at + 569.9)[0] == "use"


def test_waits_for_the_window_rather_than_send_a_dying_token():
    # A slow token response (round trip 0.1 s of a 2 s token) leaves a gap between "too late to send"
    # and "too early to refresh": the plan waits for the window, then refreshes.
    t = token(2.0, round_trip=0.1)
    now = t.send_deadline + 0.001
    assert now < t.refresh_opens_at
    action, wait = plan(t, now)
    assert action == "refresh"
    assert wait == pytest.approx(t.refresh_opens_at - now)
