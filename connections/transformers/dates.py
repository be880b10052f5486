"""Dates between Exact's ``/Date(ms)/`` and ISO 8601 with a timezone: the one reading of ``/Date(ms)/``.

Exact writes ``Edm.DateTime`` as milliseconds since the epoch of the *wall-clock* time in the
administration's zone (CET/CEST for Dutch divisions), not of the UTC instant. So ``/Date(ms)/`` is read as
a naive wall-clock time and placed in the zone (Europe/Amsterdam by default); writing back takes the
wall-clock time in that zone. ``exact_wallclock=False`` treats the milliseconds as a real UTC instant.
Around the autumn change an hour of wall-clock time happens twice; the milliseconds cannot tell which, so
the first (summer-time) one is taken. A wall-clock time in the spring gap is moved forward by the gap.

Every other module that meets ``/Date(ms)/`` (the Exact connector's subscriber cursor and filter literals,
the Incoming page's cursor) uses the functions here: ``parse_date``, ``to_exact``, ``wall_clock``,
``wall_clock_ms`` and ``exact_ms``. Pure Python, so the engine and the connector may both import it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "EXACT_DATE",
    "check_zone",
    "exact_ms",
    "format_date",
    "parse_date",
    "to_exact",
    "wall_clock",
    "wall_clock_ms",
    "zone",
]

EXACT_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
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
    match = EXACT_DATE.match(text)
    if match:
        ms = int(match.group(1))
        if match.group(2) or not exact_wallclock:
            # An explicit offset (rare in Exact) or a UTC reading: the milliseconds are a real instant.
            return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)
        wall = _EPOCH + timedelta(milliseconds=ms)
        return _normalise(wall.replace(tzinfo=tz, fold=0))
    if text.endswith(("Z", "z")):
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
    return f"/Date({wall_clock_ms(moment, tz_name)})/"


def wall_clock(ms: int) -> datetime:
    """The naive wall-clock time Exact means by ``/Date(ms)/`` (no zone needed: it is the clock's face)."""
    return _EPOCH + timedelta(milliseconds=ms)


def wall_clock_ms(moment: datetime, tz_name: str) -> int:
    """The ``/Date(ms)/`` milliseconds of ``moment``: its wall clock in ``tz_name`` (naive means: already one)."""
    wall = moment.astimezone(zone(tz_name)).replace(tzinfo=None) if moment.tzinfo else moment
    delta = wall - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def exact_ms(value: object, tz_name: str) -> int | None:
    """Wall-clock milliseconds of a ``/Date(ms)/`` value or ISO text, for comparing and cursors; None if neither.

    ``/Date(ms)/`` is already wall clock. ISO text without an offset is a wall-clock time in ``tz_name``;
    with an offset (or ``Z``) it is an instant, turned into ``tz_name``'s wall clock.
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    match = EXACT_DATE.match(text)
    if match and not match.group(2):
        return int(match.group(1))
    try:
        moment = parse_date(text, tz_name)
    except ValueError:
        return None
    return wall_clock_ms(moment, tz_name)


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
