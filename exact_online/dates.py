"""Exact Online's date formats at the boundary: ``/Date(ms)/`` in, OData ``datetime'...'`` literals out.

Every value that leaves this module is an aware datetime in UTC (FIELD-NOTES E1-E3). Values without an
offset are read in ``assume_tz`` (UTC unless the caller knows better, e.g. Europe/Amsterdam wall clock).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["from_epoch_ms", "parse_exact_datetime", "to_exact_filter_literal"]

_DOTNET = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{2})(\d{2}))?\)/$")
_FRACTION = re.compile(r"\.(\d+)")


def from_epoch_ms(ms: int | float | str) -> datetime:
    """UTC datetime from epoch milliseconds (Exact's X-RateLimit-*-Reset headers, .NET dates)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(float(ms)))


def parse_exact_datetime(value: str | datetime, *, assume_tz: tzinfo = UTC) -> datetime:
    """Parse ``/Date(ms)/``, ``/Date(ms+hhmm)/`` or ISO 8601 (with or without offset) into aware UTC.

    In the .NET wire format the number is UTC milliseconds; the optional offset only says which local
    time the value was meant in, so it does not shift the instant. Raises ``ValueError`` on anything else.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        match = _DOTNET.match(text)
        if match:
            return from_epoch_ms(match.group(1))
        if not text:
            raise ValueError("empty date")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Python < 3.11 and odd producers: pad fractions to 6 digits (".07" -> ".070000"), cut extra digits.
        text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an Exact Online date: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=assume_tz)
    return dt.astimezone(UTC)


def to_exact_filter_literal(dt: datetime, *, tz: tzinfo = UTC) -> str:
    """An OData v2 literal for ``$filter``: ``datetime'2024-01-31T12:00:00.000'`` (always with a time part).

    Naive datetimes are taken as UTC; the literal is written in ``tz`` without an offset, as Exact expects.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    local = dt.astimezone(tz)
    return "datetime'" + local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}'"
