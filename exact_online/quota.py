"""Exact's rate limits, read from ``X-RateLimit-*`` headers (API.md §8, FIELD-NOTES B1-B3).

Pure functions plus the ``QuotaStore`` interface that ``ExactApi`` uses to wait for a slot per
(client, division). ``stores.DjangoQuotaStore`` shares the state between processes through the database;
``InMemoryQuotaStore`` is for a single process.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from .dates import from_epoch_ms

__all__ = [
    "InMemoryQuotaStore",
    "QuotaStore",
    "RateLimits",
    "parse_rate_limits",
    "wait_after_429",
]


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


class QuotaStore(ABC):
    """Shared knowledge of the budget per division, so that callers wait instead of collecting 429s."""

    @abstractmethod
    def acquire(self, division: int | None) -> float:
        """Take a slot: 0.0 when the caller may send now, else the seconds to wait before asking again."""

    @abstractmethod
    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        """Store what the response headers said."""

    @abstractmethod
    def park(self, division: int | None, until: float) -> None:
        """After a 429: nobody sends to this division before ``until`` (epoch seconds)."""


@dataclass
class _Bucket:
    remaining: int | None = None
    reset: float = 0.0
    parked_until: float = 0.0


class InMemoryQuotaStore(QuotaStore):
    """The limiter for one process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[int | None, _Bucket] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self._clock()

    def acquire(self, division: int | None) -> float:
        now = self._now()
        with self._lock:
            bucket = self._buckets.setdefault(division, _Bucket())
            if bucket.parked_until > now:
                return bucket.parked_until - now
            if bucket.remaining is not None and bucket.remaining <= 0 and bucket.reset > now:
                return bucket.reset - now
            if bucket.remaining is not None and bucket.remaining > 0:
                bucket.remaining -= 1
            return 0.0

    def record(self, division: int | None, headers: Mapping[str, str], status: int) -> None:
        limits = parse_rate_limits(headers)
        with self._lock:
            bucket = self._buckets.setdefault(division, _Bucket())
            if limits.minutely_remaining is not None:
                bucket.remaining = limits.minutely_remaining
                bucket.reset = limits.minutely_reset.timestamp() if limits.minutely_reset else self._now() + 60

    def park(self, division: int | None, until: float) -> None:
        with self._lock:
            self._buckets.setdefault(division, _Bucket()).parked_until = until
