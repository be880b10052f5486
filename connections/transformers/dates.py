"""Dates between Exact's ``/Date(ms)/`` and ISO 8601 with a timezone.

Exact writes ``Edm.DateTime`` as milliseconds since the epoch of the *wall-clock* time in the
administration's zone (CET/CEST for Dutch divisions), not of the UTC instant. So ``/Date(ms)/`` is read as
a naive wall-clock time and placed in the zone (Europe/Amsterdam by default); writing back takes the
wall-clock time in that zone. ``exact_wallclock=False`` treats the milliseconds as a real UTC instant.
Around the autumn change an hour of wall-clock time happens twice; the milliseconds cannot tell which, so
the first (summer-time) one is taken. A wall-clock time in the spring gap is moved forward by the gap.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["check_zone", "format_date", "parse_date", "to_exact", "zone"]

_EXACT = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_EPOCH = datetime(1970, 1, 1)  # naive: Exact's milliseconds count wall-clock time


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_zone(name: str) -> str | None:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone '{name}'"
    return None


def _normalise(moment: datetime) -> datetime:
    """Resolve a wall-clock time in the spring gap by going through UTC (02:30 becomes 03:30+02:00)."""
    tz = moment.tzinfo
    assert tz is not None
    return moment.astimezone(UTC).astimezone(tz)


def parse_date(value: object, tz_name: str, *, exact_wallclock: bool = True, epoch_unit: str = "ms") -> datetime:
    """An aware datetime from ``/Date(ms)/``, ISO 8601 text (naive means: in ``tz_name``) or an epoch number."""
    tz = zone(tz_name)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if epoch_unit == "ms" else value
        return datetime.fromtimestamp(seconds, UTC).astimezone(tz)
    if not isinstance(value, str):
        raise ValueError("not a date: a date must be text or a number")
    text = value.strip()
    match = _EXACT.match(text)
    if match:
        ms = int(match.group(1))
        if match.group(2) or not exact_wallclock:
            # An explicit offset (rare in Exact) or a UTC reading: the milliseconds are a real instant.
            return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)
        wall = _EPOCH + timedelta(milliseconds=ms)
        return _normalise(wall.replace(tzinfo=tz, fold=0))
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: '{value}'") from None
    if parsed.tzinfo is None:
        return _normalise(parsed.replace(tzinfo=tz, fold=0))
    return parsed.astimezone(tz)


def to_exact(moment: datetime, tz_name: str, *, exact_wallclock: bool = True) -> str:
    if not exact_wallclock:
        return f"/Date({round(moment.timestamp() * 1000)})/"
    wall = moment.astimezone(zone(tz_name)).replace(tzinfo=None)
    delta = wall - _EPOCH
    ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return f"/Date({ms})/"


def format_date(moment: datetime, fmt: str) -> str:
    """``iso`` (seconds, with offset), ``date`` (YYYY-MM-DD), ``utc`` (ISO in UTC with Z) or a strftime pattern."""
    if fmt == "iso":
        return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    if fmt == "date":
        return date(moment.year, moment.month, moment.day).isoformat()
    if fmt == "utc":
        utc = moment.astimezone(UTC)
        return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds").replace("+00:00", "Z")
    return moment.strftime(fmt)
