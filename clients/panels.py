"""The dashboard panel: token health of every HTTP client and the API quota per division."""

from __future__ import annotations

from typing import Any

from .models import HttpClient, QuotaState

__all__ = ["client_health"]


def client_health() -> dict[str, Any]:
    clients = list(HttpClient.objects.select_related("grant").order_by("name")[:50])
    quotas: dict[int, list[QuotaState]] = {}
    for quota in QuotaState.objects.filter(client__in=clients).order_by("division"):
        quotas.setdefault(quota.client_id, []).append(quota)
    rows = [{"client": c, "grant": c.grant_or_none, "quotas": quotas.get(c.pk, [])} for c in clients]
    return {
        "rows": rows,
        "needs_reconnect": [c for c in clients if c.needs_reconnect],
        "count": len(clients),
    }
