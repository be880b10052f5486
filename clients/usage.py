"""API calls per client, division and hour: counted as they are sent, read by the dashboard.

Every request a client's transport sends reaches ``count_call`` (``lib.http.Transport(counter=...)``), so the
figure is the other side's own count: reads, writes, lookups, retries and token calls. One UPDATE per call
(an INSERT the first time in an hour).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .models import ApiCallCount

__all__ = ["calls_by_client_and_division", "calls_per_hour", "count_call", "counter_for", "total_calls"]


def count_call(client_id: int, division: int | None, at: datetime | None = None) -> None:
    """Add one call of ``client_id`` in ``division`` (None/0: no division) to its hour."""
    hour = (at or timezone.now()).replace(minute=0, second=0, microsecond=0)
    rows = ApiCallCount.objects.filter(client_id=client_id, division=int(division or 0), hour=hour)
    if rows.update(calls=F("calls") + 1):
        return
    try:
        with transaction.atomic():
            ApiCallCount.objects.create(client_id=client_id, division=int(division or 0), hour=hour, calls=1)
    except IntegrityError:  # another process made the hour's row first
        rows.update(calls=F("calls") + 1)


def counter_for(client: Any) -> Callable[[str, int | None], None] | None:
    """The ``Transport`` counter of a stored client (None for an unsaved one: nothing to count under)."""
    client_id = getattr(client, "pk", None)
    if client_id is None:
        return None
    return lambda kind, scope: count_call(client_id, scope)


def start_of_today() -> datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def total_calls(since: datetime, until: datetime | None = None) -> int:
    """Every call of every client from the hour of ``since`` (the count is kept per hour)."""
    rows = ApiCallCount.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    if until is not None:
        rows = rows.filter(hour__lt=until)
    return int(rows.aggregate(n=Sum("calls"))["n"] or 0)


def calls_by_client_and_division(since: datetime) -> list[dict[str, Any]]:
    """``[{"client_id", "client__name", "division", "calls"}]`` since the hour of ``since``, most calls first."""
    rows = (ApiCallCount.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
            .values("client_id", "client__name", "division").annotate(calls=Sum("calls"))
            .order_by("-calls", "client__name", "division"))
    return [dict(row) for row in rows]


def calls_per_hour(hours: int = 24, now: datetime | None = None
                   ) -> tuple[list[datetime], dict[int, dict[datetime, int]]]:
    """The last ``hours`` hour starts (oldest first) and, per division, the calls in each."""
    now = now or timezone.now()
    last = now.replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    per_division: dict[int, dict[datetime, int]] = {}
    rows = (ApiCallCount.objects.filter(hour__gte=slots[0]).values("division", "hour").annotate(calls=Sum("calls")))
    for row in rows:
        per_division.setdefault(row["division"], {})[row["hour"]] = row["calls"]
    return slots, per_division
