"""What happened, for people (the sandbox page) and for tests (``GET /sandbox/api/counters``).

Counters and the request log are kept in memory: they describe this run of the sandbox.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

__all__ = ["Monitor", "monitor"]


class Monitor:
    """Thread-safe counters plus a bounded log of recent requests and webhook deliveries."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.methods: Counter[str] = Counter()
        self.requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self.webhooks: deque[dict[str, Any]] = deque(maxlen=200)

    def incr(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counters[name] += amount

    def record_request(self, entry: dict[str, Any]) -> None:
        entry.setdefault("at", time.time())
        with self.lock:
            self.requests.appendleft(entry)
            self.statuses[str(entry.get("status"))] += 1
            self.methods[str(entry.get("method"))] += 1
            if entry.get("path", "").startswith("/api/"):
                self.counters["api_requests"] += 1

    def record_webhook(self, entry: dict[str, Any]) -> None:
        entry.setdefault("at", time.time())
        with self.lock:
            self.webhooks.appendleft(entry)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counters": dict(self.counters),
                "requests_by_status": dict(self.statuses),
                "requests_by_method": dict(self.methods),
                "token_calls": self.counters.get("token_calls", 0),
                "refresh_refusals": {
                    "old_refresh_token": self.counters.get("refusal_old_refresh_token", 0),
                    "too_early": self.counters.get("refusal_too_early", 0),
                    "expired": self.counters.get("refusal_refresh_expired", 0),
                    "revoked_chain": self.counters.get("refusal_revoked_chain", 0),
                    "token_budget": self.counters.get("refusal_token_budget", 0),
                },
            }

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)[:limit]

    def recent_webhooks(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.webhooks)[:limit]

    def reset(self) -> None:
        with self.lock:
            self.counters.clear()
            self.statuses.clear()
            self.methods.clear()
            self.requests.clear()
            self.webhooks.clear()


monitor = Monitor()
