"""The dashboard panel: token health of every HTTP client and the API quota per division."""

from __future__ import annotations

from typing import Any

from .models import HttpClient

__all__ = ["client_health"]


def client_health() -> dict[str, Any]:
    clients = list(HttpClient.objects.select_related("grant").order_by("name")[:50])
    rows = [{"client": c, "grant": c.grant_or_none, "quotas": c.quotas()} for c in clients]
    return {
        "rows": rows,
        "needs_reconnect": [c for c in clients if c.needs_reconnect],
        "count": len(clients),
    }
