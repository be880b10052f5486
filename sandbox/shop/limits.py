"""The webshop's rate limit: requests per API key in a sliding minute; over it, 429 with ``Retry-After``.

Configurable at start (``SANDBOX_SHOP_RATE_LIMIT``) and at run time (``POST /sandbox/api/shop/limits``);
0 turns it off. The window shrinks with the sandbox's time scale, like Exact's limits.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ..store import clock

__all__ = ["ShopLimits", "shop_limits"]


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


@dataclass
class ShopLimits:
    """Per-key request rate plus the paging sizes (run-time state of this sandbox process)."""

    per_minute: int = field(default_factory=lambda: _setting("SANDBOX_SHOP_RATE_LIMIT", 600))
    page_size: int = field(default_factory=lambda: _setting("SANDBOX_SHOP_PAGE_SIZE", 50))
    max_page_size: int = field(default_factory=lambda: _setting("SANDBOX_SHOP_MAX_PAGE_SIZE", 250))
    calls: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, data: dict[str, Any]) -> None:
        with self.lock:
            for name in ("per_minute", "page_size", "max_page_size"):
                if name in data:
                    value = int(data[name])
                    if value < (0 if name == "per_minute" else 1):
                        raise ValueError(f"{name} must be {'0 or more' if name == 'per_minute' else 'at least 1'}")
                    setattr(self, name, value)
            if data.get("reset_counters"):
                self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"per_minute": self.per_minute, "page_size": self.page_size, "max_page_size": self.max_page_size,
                    "usage": {key[:12] + "…": len(calls) for key, calls in self.calls.items()}}

    def check(self, api_key: str) -> tuple[bool, list[tuple[str, str]]]:
        """Count one call of ``api_key``; return whether it may pass and the rate-limit headers."""
        if self.per_minute <= 0:
            return True, []
        window = clock.seconds(60)
        now = time.monotonic()
        with self.lock:
            calls = self.calls.setdefault(api_key, deque())
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= self.per_minute:
                retry_after = max(1, math.ceil(calls[0] + window - now))
                return False, [("Retry-After", str(retry_after)), ("X-RateLimit-Limit", str(self.per_minute)),
                               ("X-RateLimit-Remaining", "0")]
            calls.append(now)
            return True, [("X-RateLimit-Limit", str(self.per_minute)),
                          ("X-RateLimit-Remaining", str(self.per_minute - len(calls)))]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.per_minute = _setting("SANDBOX_SHOP_RATE_LIMIT", 600)
            self.page_size = _setting("SANDBOX_SHOP_PAGE_SIZE", 50)
            self.max_page_size = _setting("SANDBOX_SHOP_MAX_PAGE_SIZE", 250)


shop_limits = ShopLimits()
