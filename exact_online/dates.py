"""Exact Online's dates at the connector's boundary: ``/Date(ms)/`` in, OData ``datetime'...'`` literals out.

``/Date(ms)/`` is Exact's wall-clock time in the administration's zone (API.md §4.4: CET/CEST, not UTC), so
it is read by the one implementation in ``connections.transformers.dates`` (the transformer engine's, which
the Incoming page and the subscriber cursor use too) and returned here as an aware datetime in UTC.
Filter literals are written in the same wall clock. ``from_epoch_ms`` is for real UTC epochs only (the
``X-RateLimit-*-Reset`` headers), never for ``/Date(ms)/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connections.transformers.dates import parse_date, wall_clock, wall_clock_ms

__all__ = ["EXACT_TIME_ZONE", "from_epoch_ms", "parse_exact_datetime", "to_exact_filter_literal"]

EXACT_TIME_ZONE = "Europe/Amsterdam"  # the zone of Exact's wall clock for Dutch (and Belgian) divisions


def from_epoch_ms(ms: int | float | str) -> datetime:
    """UTC datetime from real epoch milliseconds (Exact's X-RateLimit-*-Reset headers)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(float(ms)))


def parse_exact_datetime(value: str | datetime, *, tz_name: str = EXACT_TIME_ZONE) -> datetime:
    """Parse ``/Date(ms)/``, ``/Date(ms+hhmm)/`` or ISO 8601 into an aware datetime in UTC.

    ``/Date(ms)/`` and ISO text without an offset are wall-clock times in ``tz_name``; an explicit offset
    is honoured. Raises ``ValueError`` on anything else.
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo else parse_date(value.isoformat(), tz_name)
    else:
        moment = parse_date(str(value), tz_name)
    return moment.astimezone(UTC)


def to_exact_filter_literal(dt: datetime, *, tz_name: str = EXACT_TIME_ZONE) -> str:
    """An OData v2 literal for ``$filter``: ``datetime'2024-01-31T12:00:00.000'`` (always with a time part).

    Exact reads the literal as wall-clock time in its zone: an aware ``dt`` is converted to it, a naive one
    is taken as that wall clock already.
    """
    local = wall_clock(wall_clock_ms(dt, tz_name))
    return "datetime'" + local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}'"
