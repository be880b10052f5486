"""Dashboard panels of the connections app: what ran and failed, and tasks per status over time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate, TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from clients.usage import total_calls
from dashboard.overview import Panel, register_panel

from .models import Run, Task

__all__ = [
    "chart_days", "past_day_counts", "register_panels", "runs_context", "task_chart_context", "tasks_last_24_hours",
    "today_closed_hour_counts", "warm_task_chart",
]

CHART_DAYS = 14
PAST_DAYS_CACHE_SECONDS = 15 * 60  # the beat job counts them again every 5 minutes
LAST_DAY_CACHE_SECONDS = 60
LAST_DAY_CACHE_KEY = "connections:tasks-last-24h"
CHART_HEIGHT = 120
BAR_WIDTH = 22
BAR_GAP = 8
# Bottom to top, in the one colour scheme of the product (green done, red failed, amber retry, ...).
STACK = [
    (Task.Status.FINISHED, "#2f9e55"),
    (Task.Status.FAILED, "#d0453a"),
    (Task.Status.RETRY, "#e0a526"),
    (Task.Status.SKIPPED, "#a3aab7"),
    (Task.Status.PROCESSING, "#5b8fe0"),
    (Task.Status.NEW, "#9dbcf0"),
]


def tasks_last_24_hours() -> dict[str, int]:
    """Route tasks read in the last 24 hours per status, counted at most every ``LAST_DAY_CACHE_SECONDS``.

    A busy day holds tens of thousands of tasks (33,000 a day in the million-task benchmark: 40–70 ms to count),
    and the dashboard is an overview opened often; the Tasks page it links to counts live. A rollup table kept
    by every status change (claims, finishes, bulk retries, pruning, from every worker) would add a write to a
    hot row per transition and contention between workers; a short cache costs the same query once a minute.
    """
    counts = cache.get(LAST_DAY_CACHE_KEY)
    if counts is None:
        since = timezone.now() - timedelta(hours=24)
        counts = dict(Task.objects.filter(Task.in_routes(), created_at__gte=since).order_by().values_list("status")
                      .annotate(n=Count("*")).values_list("status", "n"))
        cache.set(LAST_DAY_CACHE_KEY, counts, LAST_DAY_CACHE_SECONDS)
    return counts


def runs_context() -> dict[str, Any]:
    since = timezone.now() - timedelta(hours=24)
    recent = Run.objects.filter(created_at__gte=since)
    by_status = dict(recent.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    tasks = tasks_last_24_hours()
    return {
        "by_status": [(label, value, by_status.get(value, 0)) for value, label in Run.Status.choices],
        "total": sum(by_status.values()),
        "active": Run.objects.active().select_related("incoming").order_by("-created_at")[:5],
        "failed": recent.filter(status=Run.Status.FAILED).select_related("incoming").order_by("-created_at")[:5],
        # Every call every client made (reads, writes, lookups, retries, tokens), not only what runs read.
        "api_calls": total_calls(since),
        "tasks_by_status": [(label, value, tasks.get(value, 0)) for value, label in Task.Status.choices
                            if tasks.get(value)],
    }


def _day_bounds(day: date) -> tuple[str, str]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


def _counts_per_day(start: datetime, end: datetime | None) -> dict[tuple[date, str], int]:
    """Route tasks created from ``start`` (until ``end``) per local day and status."""
    rows = Task.objects.filter(Task.in_routes(), created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    counted = (rows.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
               .values_list("day", "status").annotate(n=Count("id")))
    return {(day, status): n for day, status, n in counted}


def _day_key(day: date) -> str:
    return f"connections:task-chart-day:{day.isoformat()}"


def past_day_counts(days: list[date], *, refresh: bool = False) -> dict[tuple[date, str], int]:
    """Route tasks per status of each of ``days`` (days that have ended), each day cached on its own.

    A closed day changes only when someone retries, skips or prunes its tasks, yet counting the thirteen of the
    chart reads hundreds of thousands of rows (~250 ms over a million tasks). So each day is kept
    ``PAST_DAYS_CACHE_SECONDS`` and the beat job ``warm_task_chart`` counts them again every few minutes
    (``refresh``), before they expire: no request pays for it. A request counts only the days missing (after
    midnight: the one day that just ended; without beat: all of them, once).
    """
    tz = timezone.get_current_timezone()
    keys = {day: _day_key(day) for day in days}
    kept: dict[str, dict[str, int]] = {} if refresh else cache.get_many(list(keys.values()))
    missing = [day for day in days if keys[day] not in kept]
    per_day = {day: kept[keys[day]] for day in days if keys[day] in kept}
    if missing:
        fresh = _counts_per_day(datetime.combine(min(missing), time.min, tzinfo=tz),
                                datetime.combine(max(missing) + timedelta(days=1), time.min, tzinfo=tz))
        counted: dict[date, dict[str, int]] = {day: {} for day in missing}
        for (day, status), n in fresh.items():
            if day in counted:
                counted[day][status] = n
        cache.set_many({keys[day]: n for day, n in counted.items()}, PAST_DAYS_CACHE_SECONDS)
        per_day.update(counted)
    return {(day, status): n for day, statuses in per_day.items() for status, n in statuses.items()}


def _hour_key(day: date, hour: datetime) -> str:
    return f"connections:task-chart-hour:{day.isoformat()}:{hour:%Y-%m-%dT%H}"


def _closed_hours(now: datetime) -> tuple[date, datetime, list[datetime]]:
    """Today, the start of its current hour and the (UTC) hours of today that have ended, oldest first.

    Hours are UTC hours, so a zone whose midnight is not on the hour (UTC+5:30) just has a short first one.
    """
    today = timezone.localdate(now)
    day_start = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
    current = max(now.astimezone(UTC).replace(minute=0, second=0, microsecond=0), day_start.astimezone(UTC))
    first = day_start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while first + timedelta(hours=1) <= current:
        hours.append(first)
        first += timedelta(hours=1)
    return today, current, hours


def today_closed_hour_counts(now: datetime | None = None, *, refresh: bool = False) -> dict[str, int]:
    """Route tasks per status created today before the current hour, each hour cached on its own.

    Late on a busy day today holds tens of thousands of tasks (33,000 in a million over 30 days: 50–170 ms to count
    at every dashboard request). An hour that has ended gains no tasks, so it is counted once and kept like a
    closed day (``PAST_DAYS_CACHE_SECONDS``, counted again by ``warm_task_chart`` for status changes); a request
    counts live only the hour it is in.
    """
    now = now or timezone.now()
    today, current, hours = _closed_hours(now)
    keys = {hour: _hour_key(today, hour) for hour in hours}
    kept: dict[str, dict[str, int]] = {} if refresh else cache.get_many(list(keys.values()))
    missing = [hour for hour in hours if keys[hour] not in kept]
    if missing:
        day_start = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
        rows = Task.objects.filter(Task.in_routes(), created_at__gte=max(min(missing), day_start),
                                   created_at__lt=min(max(missing) + timedelta(hours=1), current))
        counted: dict[datetime, dict[str, int]] = {hour: {} for hour in missing}
        for hour, status, n in (rows.annotate(hour=TruncHour("created_at", tzinfo=UTC))
                                .values_list("hour", "status").annotate(n=Count("id"))):
            if hour in counted:
                counted[hour][status] = n
        fresh = {keys[hour]: n for hour, n in counted.items()}
        cache.set_many(fresh, PAST_DAYS_CACHE_SECONDS)
        kept = {**kept, **fresh}
    totals: dict[str, int] = {}
    for hour in hours:
        for status, n in kept[keys[hour]].items():
            totals[status] = totals.get(status, 0) + n
    return totals


def chart_days(today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    return [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]


def warm_task_chart() -> int:
    """Count the chart's closed days and today's closed hours again (the beat job, every ``DASH_TASK_CHART_EVERY``
    s); returns how many days and hours it counted."""
    now = timezone.now()
    days = chart_days(timezone.localdate(now))[:-1]
    past_day_counts(days, refresh=True)
    today_closed_hour_counts(now, refresh=True)
    return len(days) + len(_closed_hours(now)[2])


def task_chart_context(now: datetime | None = None) -> dict[str, Any]:
    """A stacked bar per day of the last two weeks, as SVG rectangles (no chart library, works offline).

    The thirteen days before today and today's ended hours are cached one by one and kept warm by a beat job
    (``past_day_counts``, ``today_closed_hour_counts``); a request counts live only the current hour.
    """
    now = now or timezone.now()
    today, current, _ = _closed_hours(now)
    days = chart_days(today)
    counts = past_day_counts(days[:-1])
    for status, n in today_closed_hour_counts(now).items():
        counts[(today, status)] = n
    tomorrow = datetime.combine(today + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
    for (_day, status), n in _counts_per_day(current, min(current + timedelta(hours=1), tomorrow)).items():
        counts[(today, status)] = counts.get((today, status), 0) + n  # the current hour: live, an index range scan
    totals = {day: sum(counts.get((day, s), 0) for s, _ in STACK) for day in days}
    peak = max(totals.values(), default=0) or 1
    tasks_url = reverse("connections:task_list")
    bars = []
    for index, day in enumerate(days):
        x = index * (BAR_WIDTH + BAR_GAP)
        y = float(CHART_HEIGHT)
        since, until = _day_bounds(day)
        name = date_format(day, "D j M")  # once per bar, not by a template filter per segment
        segments = []
        for status, colour in STACK:
            n = counts.get((day, status), 0)
            if not n:
                continue
            height = max(1.0, n / peak * CHART_HEIGHT)
            y -= height
            label = Task.Status(status).label
            segments.append({"y": round(y, 1), "height": round(height, 1), "colour": colour, "n": n,
                             "label": label, "title": f"{name}: {n} {label}",
                             "url": f"{tasks_url}?status={status}&since={since}&until={until}"})
        bars.append({"x": x, "text_x": x + BAR_WIDTH // 2, "day": day, "total": totals[day], "segments": segments})
    return {
        "bars": bars,
        "width": CHART_DAYS * (BAR_WIDTH + BAR_GAP),
        "height": CHART_HEIGHT,
        "view_height": CHART_HEIGHT + 24,
        "label_y": CHART_HEIGHT + 14,
        "bar_width": BAR_WIDTH,
        "legend": [(Task.Status(s).label, c) for s, c in STACK],
        "total": sum(totals.values()),
    }


def register_panels() -> None:
    register_panel(Panel("runs", "Runs · last 24 hours", "connections/overview/_runs.html", runs_context, order=20))
    register_panel(Panel("task-chart", "Tasks per day and status · last 14 days",
                         "connections/overview/_task_chart.html", task_chart_context, order=30))
