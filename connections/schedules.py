"""What a route's schedule means to a person: the cron in words and the next times it fires.

Pure functions over the route's schedule fields. Next times follow Celery beat's own reading of a crontab
(every field must match, in the route's time zone), so the page shows when beat will really fire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from cron_descriptor import Options, get_description

__all__ = ["cron_in_words", "next_cron_times", "next_interval_times"]

# How far ahead to look for a cron's next fires (a "29 February" cron may be years away: then none is shown).
HORIZON_DAYS = 400


def cron_in_words(cron: str) -> str:
    """``*/15 * * * 1-5`` → "Every 15 minutes, Monday through Friday" (24-hour clock)."""
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(get_description(cron, options))
    except Exception:  # cron_descriptor raises its own types (FormatException, ...): the cron line is shown as is
        return cron


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_cron_times(cron: str, zone_name: str, *, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` fires of a five-field cron line after ``after``, as aware datetimes in the route's zone."""
    try:
        minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
        # The expanded sets of numbers crontab keeps (celery-types does not declare them).
        spec: Any = crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                            day_of_week=day_of_week)
    except ValueError:
        return []
    zone = _zone(zone_name)
    local = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = local + timedelta(days=HORIZON_DAYS)
    found: list[datetime] = []
    while local < end and len(found) < count:
        weekday = (local.weekday() + 1) % 7  # celery: 0 is Sunday
        if (local.month not in spec.month_of_year or local.day not in spec.day_of_month
                or weekday not in spec.day_of_week):
            local = (local + timedelta(days=1)).replace(hour=0, minute=0)
            continue
        if local.hour not in spec.hour:
            local = (local + timedelta(hours=1)).replace(minute=0)
            continue
        if local.minute in spec.minute:
            found.append(local)
        local += timedelta(minutes=1)
    # Wall-clock stepping over a DST change: normalise through UTC so each time is a real instant.
    return [moment.astimezone(ZoneInfo("UTC")).astimezone(zone) for moment in found]


def next_interval_times(every_seconds: int, *, last_fired: datetime | None, now: datetime,
                        count: int = 3) -> list[datetime]:
    """Beat fires an interval when ``last + every`` has passed: the next fire is then, or now if overdue."""
    if every_seconds <= 0:
        return []
    first = max(now, last_fired + timedelta(seconds=every_seconds)) if last_fired else now
    return [first + timedelta(seconds=every_seconds * k) for k in range(count)]
