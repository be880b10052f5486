"""Exact's rate limits, read from ``X-RateLimit-*`` headers (API.md §8, FIELD-NOTES B1-B3), and the limiter.

The limiter *reserves* a call before it is sent (``reserve``, a pure function over a small JSON state per
(client, division)): a call is sent only when the division's minute and day can take it, so any number of
workers and processes never collect a 429 between them. The stores make the reservation atomic across
processes: ``stores.DjangoQuotaStore`` under a row lock (PostgreSQL ``SELECT ... FOR UPDATE``, SQLite's
IMMEDIATE transaction), ``stores.RedisQuotaStore`` in a Redis ``WATCH``/``MULTI`` transaction;
``InMemoryQuotaStore`` is for a single process. A refused reservation says until when (``Reservation``):
the caller defers its work to that moment instead of sleeping (``errors.QuotaWait``).

Fair share: background work names its *consumer* (an Outgoing or Incoming, ``quota_scope``); while several
consumers want one division's minute, each may take an equal share in the first half of the window, the rest
is free for all in the second half (a big backlog cannot starve a small route, and nothing is left unused).
Interactive calls (Fetch sample, Test connection, lookups) skip the share and may use the daily reserve
(``DASH_EXACT_DAILY_RESERVE``) that background work leaves untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .dates import from_epoch_ms

__all__ = [
    "DEFAULT_DAILY",
    "DEFAULT_MINUTELY",
    "InMemoryQuotaStore",
    "LimiterSettings",
    "QuotaScope",
    "QuotaStore",
    "RateLimits",
    "Reservation",
    "current_scope",
    "merge_headers",
    "park_state",
    "parse_rate_limits",
    "quota_scope",
    "release_state",
    "reserve",
    "wait_after_429",
]

DEFAULT_MINUTELY = 60  # Exact's limits until a response says otherwise (API.md §8)
DEFAULT_DAILY = 5000


@dataclass
class RateLimits:
    """What one response said about the daily and minutely budgets (any part may be missing)."""

    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset: datetime | None = None
    minutely_limit: int | None = None
    minutely_remaining: int | None = None
    minutely_reset: datetime | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in vars(self).values())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _int(headers: Mapping[str, str], name: str) -> int | None:
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


def _reset(headers: Mapping[str, str], name: str) -> datetime | None:
    raw = _int(headers, name)
    if raw is None:
        return None
    # Exact sends epoch milliseconds; a 10-digit value is seconds (proxies such as Nango rewrite it).
    return from_epoch_ms(raw if raw > 10_000_000_000 else raw * 1000)


def parse_rate_limits(headers: Mapping[str, str]) -> RateLimits:
    return RateLimits(
        daily_limit=_int(headers, "X-RateLimit-Limit"),
        daily_remaining=_int(headers, "X-RateLimit-Remaining"),
        daily_reset=_reset(headers, "X-RateLimit-Reset"),
        minutely_limit=_int(headers, "X-RateLimit-Minutely-Limit"),
        minutely_remaining=_int(headers, "X-RateLimit-Minutely-Remaining"),
        minutely_reset=_reset(headers, "X-RateLimit-Minutely-Reset"),
    )


def wait_after_429(headers: Mapping[str, str], now: float, *, jitter: tuple[float, float] = (2.0, 5.0)) -> float:
    """Seconds to wait after a 429: until the reset the headers name, else the next minute boundary.

    Negative waits from clock skew are clamped (picqer #521); jitter keeps processes from stampeding.
    """
    limits = parse_rate_limits(headers)
    extra = random.uniform(*jitter)
    if limits.minutely_remaining == 0 and limits.minutely_reset is not None:
        return max(0.0, limits.minutely_reset.timestamp() - now) + extra / 4
    if limits.daily_remaining == 0 and limits.daily_reset is not None:
        return max(0.0, limits.daily_reset.timestamp() - now) + extra / 4
    if limits.minutely_reset is not None and limits.minutely_reset.timestamp() > now:
        return limits.minutely_reset.timestamp() - now + extra / 4
    return (60.0 - now % 60.0) + extra


@dataclass(frozen=True)
class QuotaScope:
    """Who is calling: ``consumer`` shares a division's minute with other consumers; ``interactive`` calls
    (a person waiting in the browser, a lookup) skip the share and may use the daily reserve."""

    consumer: str = ""
    interactive: bool = False


_BACKGROUND = QuotaScope()
_SCOPE: contextvars.ContextVar[QuotaScope | None] = contextvars.ContextVar("exact_quota_scope", default=None)


@contextlib.contextmanager
def quota_scope(consumer: str = "", *, interactive: bool = False) -> Iterator[QuotaScope]:
    """Calls made inside count for ``consumer`` (e.g. ``"outgoing:7"``), or as interactive ones."""
    scope = QuotaScope(consumer=consumer, interactive=interactive)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> QuotaScope:
    return _SCOPE.get() or _BACKGROUND


@dataclass(frozen=True)
class LimiterSettings:
    """The limiter's knobs: Exact's window lengths (shortened only for benchmarks against a scaled sandbox)
    and the share of the daily quota kept for interactive calls."""

    minute: float = 60.0
    daily_reserve: int = 0

    @property
    def day(self) -> float:
        return 86400.0 * self.minute / 60.0

    @property
    def guard(self) -> float:
        """A call reserved this close to the end of a window is counted in the next one too (clock skew, the
        request still travelling: Exact may count it there)."""
        return max(0.5, self.minute / 20.0)

    @classmethod
    def from_settings(cls) -> LimiterSettings:
        from django.conf import settings

        return cls(minute=float(getattr(settings, "EXACT_QUOTA_MINUTE_SECONDS", 60.0) or 60.0),
                   daily_reserve=int(getattr(settings, "EXACT_DAILY_RESERVE", 0) or 0))


@dataclass(frozen=True)
class Reservation:
    """The limiter's answer: send now (``ok``), or not before ``until`` (epoch seconds) because of ``which``
    (``minutely``, ``daily``, ``parked`` after a 429, or ``share`` while other consumers have their turn)."""

    ok: bool
    until: float = 0.0
    which: str = ""


def _window_end(now: float, length: float) -> float:
    return (math.floor(now / length) + 1) * length


def merge_headers(state: dict[str, Any], limits: RateLimits) -> None:
    """Fold what Exact said into the state: the limits, and calls Exact counted that we did not reserve
    (another installation of the same app); a window Exact is already in moves the state forward."""
    if limits.minutely_limit is not None:
        state["m_limit"] = limits.minutely_limit
    if limits.daily_limit is not None:
        state["d_limit"] = limits.daily_limit
    if limits.minutely_remaining is not None and limits.minutely_reset is not None:
        end, used = limits.minutely_reset.timestamp(), max(0, int(state.get("m_limit") or DEFAULT_MINUTELY)
                                                           - limits.minutely_remaining)
        if abs(end - float(state.get("m_end") or 0)) < 1.0:
            state["m_used"] = max(int(state.get("m_used") or 0), used)
        elif end > float(state.get("m_end") or 0):
            state.update(m_end=end, m_used=used, shares={})
    if limits.daily_remaining is not None and limits.daily_reset is not None:
        end, used = limits.daily_reset.timestamp(), max(0, int(state.get("d_limit") or DEFAULT_DAILY)
                                                        - limits.daily_remaining)
        # X-RateLimit-Reset has minute precision only (FIELD-NOTES B3): a minute apart is the same day.
        if abs(end - float(state.get("d_end") or 0)) <= 60.0:
            state["d_used"] = max(int(state.get("d_used") or 0), used)
        elif end > float(state.get("d_end") or 0):
            state.update(d_end=end, d_used=used)


def release_state(state: dict[str, Any]) -> None:
    """Give back a reserved call that never reached Exact (no connection was made): Exact did not count it."""
    state["m_used"] = max(0, int(state.get("m_used") or 0) - 1)
    state["d_used"] = max(0, int(state.get("d_used") or 0) - 1)


def park_state(state: dict[str, Any], until: float) -> None:
    """After a 429: nothing is reserved for this division before ``until``."""
    state["parked"] = max(float(state.get("parked") or 0), until)


def reserve(state: dict[str, Any], now: float, *, scope: QuotaScope, config: LimiterSettings) -> Reservation:
    """Take one call from the division's minute and day in ``state`` (changed in place), or say until when not.

    The caller holds the state's lock (or transaction) around read, ``reserve`` and write.
    """
    parked = float(state.get("parked") or 0)
    if parked > now:
        return Reservation(False, parked, "parked")
    if now >= float(state.get("m_end") or 0):
        end = _window_end(now, config.minute)
        # Calls sent at the very end of the last window may be counted by Exact in this one.
        carry = int(state.get("carry") or 0) if abs(end - float(state.get("m_end") or 0) - config.minute) < 0.5 else 0
        state.update(m_end=end, m_used=carry, shares={}, carry=0)
    if now >= float(state.get("d_end") or 0):
        state.update(d_end=_window_end(now, config.day), d_used=0)
    m_limit = int(state.get("m_limit") or DEFAULT_MINUTELY)
    d_limit = int(state.get("d_limit") or DEFAULT_DAILY)
    m_end, d_end = float(state["m_end"]), float(state["d_end"])
    d_used = int(state.get("d_used") or 0)
    # The reserve is at most a tenth of the day: a small contracted limit still leaves work for the routes.
    d_cap = d_limit if scope.interactive else d_limit - min(config.daily_reserve, d_limit // 10)
    if d_used >= d_cap:
        return Reservation(False, d_end, "daily")
    m_used = int(state.get("m_used") or 0)
    if m_used >= m_limit:
        return Reservation(False, m_end, "minutely")
    shares: dict[str, int] = state.setdefault("shares", {})
    active: dict[str, float] = state.setdefault("active", {})
    if scope.consumer and not scope.interactive:
        # Consumers seen in this window or the one before compete for this minute.
        for name in [n for n, seen in active.items() if seen < m_end - 2 * config.minute + 0.5]:
            del active[name]
        active[scope.consumer] = m_end
        half = m_end - config.minute / 2
        fair = math.ceil(m_limit / max(1, len(active)))
        if len(active) > 1 and now < half and shares.get(scope.consumer, 0) >= fair:
            return Reservation(False, half, "share")
        shares[scope.consumer] = shares.get(scope.consumer, 0) + 1
    state["m_used"] = m_used + 1
    state["d_used"] = d_used + 1
    if m_end - now < config.guard:  # it may reach Exact in the next window: counted there too
        state["carry"] = int(state.get("carry") or 0) + 1
    return Reservation(True)


class QuotaStore(ABC):
    """The shared limiter per division: ``reserve`` before sending, ``record`` what Exact said, ``park`` after
    a 429. Each implementation makes ``reserve`` atomic across every process that shares it."""

    config: LimiterSettings = LimiterSettings()

    @abstractmethod
    def reserve(self, division: int | None, *, scope: QuotaScope | None = None) -> Reservation:
        """Take a slot, or say until when there is none (nothing is taken then)."""

    def acquire(self, division: int | None) -> float:
        """Seconds to wait before a slot is free (0.0: one was taken): ``reserve`` for simple callers."""
        found = self.reserve(division)
        return 0.0 if found.ok else max(0.05, found.until - time.time())

    @abstractmethod
    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        """Store what the response headers said."""

    @abstractmethod
    def park(self, division: int | None, until: float) -> None:
        """After a 429: nobody sends to this division before ``until`` (epoch seconds)."""

    def release(self, division: int | None) -> None:
        """A reserved call never left (no connection to Exact): give its slot back (``release_state``), so that an
        outage does not use up the division's day in the limiter while Exact counted nothing."""
        return None


class InMemoryQuotaStore(QuotaStore):
    """The limiter for one process (the plain-shell default)."""

    def __init__(self, clock: Callable[[], float] = time.time, config: LimiterSettings | None = None) -> None:
        self._clock = clock
        self.config = config or LimiterSettings()
        self._states: dict[int | None, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def reserve(self, division: int | None, *, scope: QuotaScope | None = None) -> Reservation:
        with self._lock:
            return reserve(self._states.setdefault(division, {}), self._clock(), scope=scope or current_scope(),
                           config=self.config)

    def acquire(self, division: int | None) -> float:
        found = self.reserve(division)
        return 0.0 if found.ok else max(0.05, found.until - self._clock())

    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        limits = parse_rate_limits(headers)
        with self._lock:
            merge_headers(self._states.setdefault(division, {}), limits)

    def park(self, division: int | None, until: float) -> None:
        with self._lock:
            park_state(self._states.setdefault(division, {}), until)

    def release(self, division: int | None) -> None:
        with self._lock:
            release_state(self._states.setdefault(division, {}))
