"""The dashboard panel: token health of every HTTP client and the API quota per division."""

from __future__ import annotations

from typing import Any

from .models import HttpClient

__all__ = ["api_usage", "client_health"]


def client_health() -> dict[str, Any]:
    clients = list(HttpClient.objects.select_related("grant").order_by("name")[:50])
    quotas = HttpClient.quotas_by_client(clients)
    rows = [{"client": c, "grant": c.grant_or_none, "quotas": quotas[c.pk]} for c in clients]
    return {
        "rows": rows,
        "needs_reconnect": [c for c in clients if c.needs_reconnect],
        "count": len(clients),
    }


PALETTE = ["#2f6fd0", "#2f9e55", "#e0a526", "#8a5cd0", "#d0453a", "#1f9bb0", "#a3aab7", "#c46a2b"]
CHART_HEIGHT = 120
BAR_WIDTH = 16
BAR_GAP = 4


def api_usage() -> dict[str, Any]:
    """API calls today per client and division (every call: reads, writes, lookups, retries, tokens), quota left,
    and a stacked bar per hour of the last 24 with one colour per division (server-rendered SVG)."""
    from .usage import calls_by_client_and_division, calls_per_hour, start_of_today

    rows = calls_by_client_and_division(start_of_today())
    clients = HttpClient.objects.filter(pk__in={r["client_id"] for r in rows})
    quotas = {pk: {q.division: q for q in found} for pk, found in HttpClient.quotas_by_client(clients).items()}
    for row in rows:
        quota = quotas.get(row["client_id"], {}).get(row["division"]) if row["division"] else None
        row["quota"] = quota if quota is not None and quota.daily_limit and quota.is_current else None
    slots, per_division = calls_per_hour(24)
    divisions = sorted(per_division)
    colours = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(divisions)}
    totals = [sum(per_division[d].get(slot, 0) for d in divisions) for slot in slots]
    peak = max(totals, default=0) or 1
    bars = []
    for index, slot in enumerate(slots):
        y = float(CHART_HEIGHT)
        segments = []
        for division in divisions:
            n = per_division[division].get(slot, 0)
            if not n:
                continue
            height = max(1.0, n / peak * CHART_HEIGHT)
            y -= height
            segments.append({"y": round(y, 1), "height": round(height, 1), "colour": colours[division], "n": n,
                             "division": division})
        bars.append({"x": index * (BAR_WIDTH + BAR_GAP), "hour": slot, "total": totals[index], "segments": segments,
                     "label": index % 3 == 0})
    return {
        "rows": rows, "total": sum(r["calls"] for r in rows), "bars": bars, "peak": max(totals, default=0),
        "width": len(slots) * (BAR_WIDTH + BAR_GAP), "height": CHART_HEIGHT, "bar_width": BAR_WIDTH,
        "legend": [(d or "no division", colours[d]) for d in divisions], "chart_total": sum(totals),
    }
