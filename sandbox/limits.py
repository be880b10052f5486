"""Exact's API limits per app per division: a minutely and a daily window, ``X-RateLimit-*`` headers, 429.

Windows are aligned like Exact's (minute boundaries, UTC midnight) and shrink with the time scale.
Counters live in memory: a restart of the sandbox starts fresh windows. Limits are configurable at run
time (``POST /sandbox/api/limits``), globally and per client id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .store import clock

__all__ = ["Decision", "limiter"]


def _epoch_ms(sandbox_time: float) -> str:
    """A reset moment on the client's clock: the sandbox clock may run ahead (``/sandbox/api/clock``)."""
    return str(int((sandbox_time - clock.offset) * 1000))


@dataclass
class Decision:
    allowed: bool
    headers: list[tuple[str, str]]
    which: str = ""  # "minutely" or "daily" when refused


@dataclass
class _Bucket:
    minute_start: float = 0.0
    minute_count: int = 0
    day_start: float = 0.0
    day_count: int = 0


@dataclass
class Limiter:
    """Counts calls per (client id, division) and decides whether the next one may pass."""

    minutely: int = 60
    daily: int = 5000
    token_daily: int = 200  # token-endpoint calls per app per day (API.md §2.3); 0 turns the budget off
    per_app: dict[str, dict[str, int]] = field(default_factory=dict)
    buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)
    token_buckets: dict[str, _Bucket] = field(default_factory=dict)
    error_budget: int = 0  # 4xx per app, division and endpoint per hour before a one-hour block; 0 = off
    error_buckets: dict[tuple[str, int, str], _Bucket] = field(default_factory=dict)
    error_blocks: dict[tuple[str, int, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, data: dict[str, Any]) -> None:
        with self.lock:
            if "minutely" in data:
                self.minutely = int(data["minutely"])
            if "daily" in data:
                self.daily = int(data["daily"])
            if "error_budget" in data:
                self.error_budget = int(data["error_budget"])
            if "token_daily" in data:
                self.token_daily = int(data["token_daily"])
            for client_id, override in (data.get("apps") or {}).items():  # merged per app; null removes one
                if override is None:
                    self.per_app.pop(str(client_id), None)
                else:
                    self.per_app[str(client_id)] = {k: int(v) for k, v in override.items()}
            if data.get("reset_counters"):
                self.buckets.clear()
                self.token_buckets.clear()
                self.error_buckets.clear()
                self.error_blocks.clear()

    def reset(self) -> None:
        with self.lock:
            self.minutely = int(getattr(settings, "SANDBOX_MINUTELY_LIMIT", 60))
            self.daily = int(getattr(settings, "SANDBOX_DAILY_LIMIT", 5000))
            self.token_daily = int(getattr(settings, "SANDBOX_TOKEN_DAILY_LIMIT", 200))
            self.error_budget = int(getattr(settings, "SANDBOX_ERROR_BUDGET", 0))
            self.per_app = {}
            self.buckets.clear()
            self.token_buckets.clear()
            self.error_buckets.clear()
            self.error_blocks.clear()

    def limits_for(self, client_id: str) -> tuple[int, int]:
        override = self.per_app.get(client_id, {})
        return override.get("minutely", self.minutely), override.get("daily", self.daily)

    @staticmethod
    def _windows(now: float) -> tuple[float, float, float, float]:
        minute = clock.seconds(60)
        day = clock.seconds(86400)
        return (now // minute) * minute, minute, (now // day) * day, day

    def check(self, client_id: str, division: int) -> Decision:
        now = clock.now()
        m_start, m_len, d_start, d_len = self._windows(now)
        with self.lock:
            minutely, daily = self.limits_for(client_id)
            bucket = self.buckets.setdefault((client_id, division), _Bucket())
            if bucket.minute_start != m_start:
                bucket.minute_start, bucket.minute_count = m_start, 0
            if bucket.day_start != d_start:
                bucket.day_start, bucket.day_count = d_start, 0
            m_reset = _epoch_ms(m_start + m_len)
            d_reset = _epoch_ms(d_start + d_len)
            if bucket.day_count >= daily:
                return Decision(False, [("X-RateLimit-Limit", str(daily)), ("X-RateLimit-Remaining", "0"),
                                        ("X-RateLimit-Reset", d_reset)], "daily")
            if bucket.minute_count >= minutely:
                return Decision(False, [("X-RateLimit-Minutely-Limit", str(minutely)),
                                        ("X-RateLimit-Minutely-Remaining", "0"),
                                        ("X-RateLimit-Minutely-Reset", m_reset)], "minutely")
            bucket.minute_count += 1
            bucket.day_count += 1
            return Decision(True, [
                ("X-RateLimit-Limit", str(daily)),
                ("X-RateLimit-Remaining", str(max(daily - bucket.day_count, 0))),
                ("X-RateLimit-Reset", d_reset),
                ("X-RateLimit-Minutely-Limit", str(minutely)),
                ("X-RateLimit-Minutely-Remaining", str(max(minutely - bucket.minute_count, 0))),
                ("X-RateLimit-Minutely-Reset", m_reset),
            ])

    def token_call(self, client_id: str) -> bool:
        """Count one token-endpoint call of ``client_id``; False once today's budget is spent."""
        _, _, d_start, _ = self._windows(clock.now())
        with self.lock:
            budget = self.per_app.get(client_id, {}).get("token_daily", self.token_daily)
            bucket = self.token_buckets.setdefault(client_id, _Bucket())
            if bucket.day_start != d_start:
                bucket.day_start, bucket.day_count = d_start, 0
            bucket.day_count += 1
            return budget <= 0 or bucket.day_count <= budget

    def record_error(self, key: tuple[str, int, str]) -> None:
        """Count a 4xx; past the hourly budget the key is blocked for an hour (FIELD-NOTES B5)."""
        if self.error_budget <= 0:
            return
        now = clock.now()
        hour = clock.seconds(3600)
        with self.lock:
            bucket = self.error_buckets.setdefault(key, _Bucket())
            start = (now // hour) * hour
            if bucket.day_start != start:
                bucket.day_start, bucket.day_count = start, 0
            bucket.day_count += 1
            if bucket.day_count > self.error_budget:
                self.error_blocks[key] = now + hour

    def error_blocked(self, key: tuple[str, int, str]) -> bool:
        with self.lock:
            until = self.error_blocks.get(key)
            return until is not None and until > clock.now()

    def storm_headers(self, client_id: str) -> list[tuple[str, str]]:
        """Headers of an injected 429 (a storm): the minutely ones only, as on a real minutely 429."""
        m_start, m_len, _, _ = self._windows(clock.now())
        minutely, _ = self.limits_for(client_id)
        return [("X-RateLimit-Minutely-Limit", str(minutely)), ("X-RateLimit-Minutely-Remaining", "0"),
                ("X-RateLimit-Minutely-Reset", _epoch_ms(m_start + m_len))]

    def snapshot(self) -> dict[str, Any]:
        now = clock.now()
        m_start, _, d_start, _ = self._windows(now)
        with self.lock:
            usage = []
            for (client_id, division), b in sorted(self.buckets.items()):
                minutely, daily = self.limits_for(client_id)
                usage.append({
                    "client_id": client_id, "division": division,
                    "minute_used": b.minute_count if b.minute_start == m_start else 0, "minutely": minutely,
                    "day_used": b.day_count if b.day_start == d_start else 0, "daily": daily,
                })
            tokens = {cid: b.day_count for cid, b in self.token_buckets.items() if b.day_start == d_start}
            return {"minutely": self.minutely, "daily": self.daily, "token_daily": self.token_daily,
                    "error_budget": self.error_budget, "error_blocks": len(self.error_blocks),
                    "apps": self.per_app, "usage": usage, "token_calls_today": tokens}


limiter = Limiter()
limiter.reset()
