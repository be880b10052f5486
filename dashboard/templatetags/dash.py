"""Template helpers shared by every app: JSON display and status badges with one colour scheme."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.html import escape, format_html
from django.utils.text import Truncator

register = template.Library()

# One colour meaning everywhere (ui.md): green done, blue running/new, amber waiting, red failed, grey off.
_BADGE_COLOURS = {
    "green": {"finished", "granted", "ok", "succeeded", "success", "active", "enabled", "connected"},
    "blue": {"running", "reading", "publishing", "new", "processing", "queued", "started"},
    "amber": {"retry", "waiting", "needs_attention", "stale", "throttled", "pending", "unknown"},
    "red": {"failed", "needs_reconnect", "error", "refused", "revoked", "denied"},
    "grey": {"skipped", "disabled", "not_granted", "never", "cancelled"},
}


@register.filter(is_safe=True)
def clip(value: Any, length: int) -> str:
    """``truncatechars``, without its cost when nothing is cut (most values): a list of 50 rows clips 200 values,
    and ``truncatechars`` looks up its translated ellipsis every time."""
    text = str(value)
    return text if len(text) <= int(length) else Truncator(text).chars(int(length))


@register.filter
def pretty_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.filter
def badge_colour(status: Any) -> str:
    key = str(status).strip().lower().replace(" ", "_").replace("-", "_")
    for colour, names in _BADGE_COLOURS.items():
        if key in names:
            return colour
    return "grey"


@register.inclusion_tag("includes/badge.html")
def status_badge(status: Any, label: str | None = None) -> dict[str, Any]:
    return {"colour": badge_colour(status), "label": label or str(status).replace("_", " ").capitalize()}


# A value longer than this, or a list of more items than this, is folded behind a summary.
LONG_VALUE_CHARS = 120
LONG_LIST_ITEMS = 12
_NAME = re.compile(r"[\w.$/@-]+")  # an item of a list of names (a property, a path); no spaces, '=', '?' or ':'


@register.inclusion_tag("includes/long_value.html")
def long_value(value: Any, noun: str = "fields", limit: int = LONG_VALUE_CHARS) -> dict[str, Any]:
    """A value that may be huge (a 150-property $select, a long URL, a log line): wrapped, and folded when long.

    A comma-separated list of names folds to "150 fields ▸"; other text longer than ``limit`` (a URL or a
    sentence that merely holds such a list) to its first characters and its length.
    """
    text = "" if value is None else str(value)
    items = [item.strip() for item in text.split(",") if item.strip()] if "," in text else []
    if len(items) > LONG_LIST_ITEMS and all(_NAME.fullmatch(item) for item in items):
        return {"text": text, "summary": f"{len(items)} {noun}", "folded": True}
    if len(text) > limit:
        return {"text": text, "summary": f"{text[:60]}… ({len(text):,} characters)", "folded": True}
    return {"text": text, "summary": "", "folded": False}


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return f"[{len(value)} items]" if value else "[]"
    if value is None:
        return "—"
    return str(value)


@register.inclusion_tag("includes/sample_table.html")
def sample_table(entities: Any, title: str = "entities") -> dict[str, Any]:
    """Entities as a table (one row each, one column per property) with the JSON behind a toggle."""
    rows = [entity for entity in entities or [] if isinstance(entity, dict)]
    columns: list[str] = []
    for entity in rows:
        for key in entity:
            if key not in columns and key != "__metadata":
                columns.append(key)
    return {
        "columns": columns,
        "rows": [[_cell(entity.get(column)) for column in columns] for entity in rows],
        "entities": entities,
        "title": title,
    }


# --- one way to show time: the site's time zone, one format, relative where it helps, human durations ----

DATETIME_FORMAT = "Y-m-d H:i:s"


def _relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    ahead, seconds = seconds > 0, abs(seconds)
    if seconds < 45:
        return "now" if ahead else "just now"
    for unit_seconds, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= unit_seconds:
            amount = round(seconds / unit_seconds)
            text = f"{amount} {unit}"
            return f"in {text}" if ahead else f"{text} ago"
    return ""


@register.filter
def relative(value: Any) -> str:
    """ "in 4 min", "3 h ago" (empty for anything but a datetime)."""
    if not isinstance(value, datetime):
        return ""
    return _relative(value, timezone.now())


@register.filter(is_safe=True)
def when(value: Any) -> str:
    """A moment in the site's time zone in the one format, with the relative time as its tooltip; "—" if none.

    An ISO 8601 text (a moment kept in a JSON field) is read as the moment it names."""
    if isinstance(value, str) and value:
        value = parse_datetime(value) or value
    if not isinstance(value, datetime):
        return "—" if value in (None, "") else escape(str(value))
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(), _relative(value, timezone.now())
                       if timezone.is_aware(value) else "", date_format(local, DATETIME_FORMAT))


@register.filter
def duration(value: Any) -> str:
    """A human duration: "250 ms", "4.2 s", "3 min 05 s", "2 h 03 min" (from a timedelta or seconds)."""
    if value in (None, ""):
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


@register.filter
def duration_ms(value: Any) -> str:
    """``duration`` for a value in milliseconds (request logs, tester timings)."""
    if value in (None, ""):
        return "—"
    return duration(float(value) / 1000)
