"""Turn the declarative ``BEAT_SCHEDULE_TABLE`` into Celery's ``beat_schedule``.

Each entry's schedule is a number of seconds or a five-field cron line, overridable through its
``env_key``; ``expires`` keeps a beat backlog from stacking duplicate runs.
"""

from __future__ import annotations

import os
from typing import Any

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

__all__ = ["parse_beat_schedule"]


def _schedule(value: str | float) -> float | crontab:
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    fields = text.split()
    if len(fields) != 5:
        raise ImproperlyConfigured(f"expected seconds or a five-field cron line, got {value!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(minute, hour, day_of_week, day_of_month, month_of_year)


def parse_beat_schedule(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for entry in table:
        raw = os.environ.get(entry["env_key"], entry["default"])
        if isinstance(raw, str) and raw.strip().lower() == "disable":
            continue
        schedule[entry["name"]] = {
            "task": entry["task"],
            "schedule": _schedule(raw),
            "options": {"expires": entry["expires"]},
        }
    return schedule
