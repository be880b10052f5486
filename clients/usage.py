"""API calls per client, division and hour: counted as they are sent, read by the dashboard.

Every request a client's transport sends reaches ``count_call`` (``lib.http.Transport(counter=...)``), so the
figure is the other side's own count: reads, writes, lookups, retries and token calls. Counts gather in the
process and are written (one UPDATE per client, division and hour) at most every
``DASH_CALL_COUNT_FLUSH_SECONDS``, after every Celery task and web request, at exit, and before this process
reads them; never inside a transaction, which could roll them back.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .models import ApiCallCount

__all__ = ["calls_by_client_and_division", "calls_per_hour", "count_call", "counter_for", "discard_pending", "flush",
           "total_calls"]

_pending: Counter[tuple[int, int, datetime]] = Counter()
_lock = threading.Lock()
_last_flush = [time.monotonic()]


def count_call(client_id: int, division: int | None, at: datetime | None = None) -> None:
    """Add one call of ``client_id`` in ``division`` (None/0: no division) to its hour."""
    hour = (at or timezone.now()).replace(minute=0, second=0, microsecond=0)
    with _lock:
        _pending[(client_id, int(division or 0), hour)] += 1
    if time.monotonic() - _last_flush[0] >= settings.CALL_COUNT_FLUSH_SECONDS:
        flush()


def _write(client_id: int, division: int, hour: datetime, calls: int) -> None:
    rows = ApiCallCount.objects.filter(client_id=client_id, division=division, hour=hour)
    if rows.update(calls=F("calls") + calls):
        return
    try:
        with transaction.atomic():
            ApiCallCount.objects.create(client_id=client_id, division=division, hour=hour, calls=calls)
    except IntegrityError:  # another process made the hour's row first
        rows.update(calls=F("calls") + calls)


def _in_transaction() -> bool:
    """Inside a transaction of the product's own (a test case's wrapping transaction does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def flush(**_signal: Any) -> int:
    """Write this process's gathered counts; returns how many calls were written. Also a signal receiver."""
    if _in_transaction():
        return 0  # a rollback would take them along: the next flush outside the transaction writes them
    with _lock:
        pending = dict(_pending)
        _pending.clear()
        _last_flush[0] = time.monotonic()
    written = 0
    for (client_id, division, hour), calls in pending.items():
        try:
            _write(client_id, division, hour, calls)
        except IntegrityError:  # the client was deleted meanwhile: its calls go with it
            continue
        written += calls
    return written


atexit.register(flush)


def discard_pending() -> None:
    """Forget counts not written yet: a test starts from none (another test's client may be gone by then)."""
    with _lock:
        _pending.clear()


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
    flush()
    rows = ApiCallCount.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    if until is not None:
        rows = rows.filter(hour__lt=until)
    return int(rows.aggregate(n=Sum("calls"))["n"] or 0)


def calls_by_client_and_division(since: datetime) -> list[dict[str, Any]]:
    """``[{"client_id", "client__name", "division", "calls"}]`` since the hour of ``since``, most calls first."""
    flush()
    rows = (ApiCallCount.objects.filter(hour__gte=since.replace(minute=0, second=0, microsecond=0))
            .values("client_id", "client__name", "division").annotate(calls=Sum("calls"))
            .order_by("-calls", "client__name", "division"))
    return [dict(row) for row in rows]


def calls_per_hour(hours: int = 24, now: datetime | None = None
                   ) -> tuple[list[datetime], dict[int, dict[datetime, int]]]:
    """The last ``hours`` hour starts (oldest first) and, per division, the calls in each."""
    flush()
    now = now or timezone.now()
    last = now.replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    per_division: dict[int, dict[datetime, int]] = {}
    rows = (ApiCallCount.objects.filter(hour__gte=slots[0]).values("division", "hour").annotate(calls=Sum("calls")))
    for row in rows:
        per_division.setdefault(row["division"], {})[row["hour"]] = row["calls"]
    return slots, per_division
