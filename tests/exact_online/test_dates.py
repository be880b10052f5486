"""Exact's ``/Date(ms)/`` is Amsterdam wall-clock time (API.md §4.4), read one way everywhere: the engine's
``connections.transformers.dates``, the connector's ``exact_online.dates``, the subscriber cursor and the
Incoming page all agree, also across both daylight-saving changes (last Sunday of March and of October)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connections.models import IncomingCursor
from connections.transformers.dates import exact_ms, parse_date, to_exact, wall_clock, wall_clock_ms
from exact_online.cursors import cursor_view, date_ms, ms_literal
from exact_online.dates import from_epoch_ms, parse_exact_datetime, to_exact_filter_literal

AMS = "Europe/Amsterdam"


def last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def wall_ms(wall: datetime) -> int:
    """What Exact writes for a wall-clock time: milliseconds as if that clock face were UTC."""
    return round((wall.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def dst_cases(year: int) -> list[tuple[datetime, datetime]]:
    """(Amsterdam wall clock, the UTC instant it means) around both changes of ``year``."""
    spring, autumn = last_sunday(year, 3), last_sunday(year, 10)
    return [
        (spring.replace(hour=1, minute=59, second=59), spring.replace(hour=0, minute=59, second=59, tzinfo=UTC)),
        (spring.replace(hour=2, minute=30), spring.replace(hour=1, minute=30, tzinfo=UTC)),  # does not exist: +1 h
        (spring.replace(hour=3), spring.replace(hour=1, tzinfo=UTC)),
        (autumn.replace(hour=1, minute=59), autumn.replace(hour=23, minute=59, tzinfo=UTC) - timedelta(days=1)),
        (autumn.replace(hour=2, minute=30), autumn.replace(hour=0, minute=30, tzinfo=UTC)),  # twice: the first
        (autumn.replace(hour=3), autumn.replace(hour=2, tzinfo=UTC)),
    ]


CASES = [case for year in (2024, 2025, 2026) for case in dst_cases(year)]


def test_the_changes_are_on_the_last_sundays():
    assert last_sunday(2024, 3) == datetime(2024, 3, 31) and last_sunday(2024, 10) == datetime(2024, 10, 27)
    assert last_sunday(2025, 3) == datetime(2025, 3, 30) and last_sunday(2025, 10) == datetime(2025, 10, 26)


@pytest.mark.parametrize(("wall", "instant"), CASES, ids=lambda v: v.isoformat())
def test_every_reader_agrees_across_daylight_saving_changes(wall, instant):
    raw = f"/Date({wall_ms(wall)})/"
    assert parse_date(raw, AMS).astimezone(UTC) == instant  # the engine (an hour that comes twice compares
    # unequal across zones by design, PEP 495: compare in UTC)
    assert parse_exact_datetime(raw) == instant and parse_exact_datetime(raw).tzinfo is UTC  # the connector
    assert parse_exact_datetime(wall.isoformat()) == instant  # ISO without an offset: the same wall clock
    assert date_ms(raw) == wall_ms(wall)  # the subscriber cursor keeps Exact's value
    assert date_ms(instant.isoformat()) == exact_ms(instant, AMS)  # an instant becomes the wall clock it shows


@pytest.mark.parametrize(("wall", "instant"), CASES, ids=lambda v: v.isoformat())
def test_writing_back_gives_the_wall_clock(wall, instant):
    shown = instant.astimezone(parse_date("/Date(0)/", AMS).tzinfo).replace(tzinfo=None)  # after gap moves
    assert to_exact(instant, AMS) == f"/Date({wall_ms(shown)})/"
    assert to_exact_filter_literal(instant) == "datetime'" + shown.strftime("%Y-%m-%dT%H:%M:%S") + ".000'"
    assert ms_literal(wall_ms(shown)) == to_exact_filter_literal(instant)


def test_the_repeated_autumn_hour_writes_the_same_wall_clock_twice():
    first, second = datetime(2024, 10, 27, 0, 30, tzinfo=UTC), datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    assert to_exact(first, AMS) == to_exact(second, AMS) == f"/Date({wall_ms(datetime(2024, 10, 27, 2, 30))})/"
    assert to_exact_filter_literal(second) == "datetime'2024-10-27T02:30:00.000'"
    assert exact_ms("2024-10-27T02:30:00+01:00", AMS) == exact_ms("2024-10-27T02:30:00", AMS)


def test_a_modified_cursor_filters_on_exacts_wall_clock():
    view = cursor_view({"kind": "modified", "value": str(wall_ms(datetime(2024, 10, 27, 2, 30)))})
    assert view["filter"] == "Modified ge datetime'2024-10-27T02:30:00.000'"


def test_the_incoming_cursor_reads_and_shows_the_wall_clock(settings):
    settings.TIME_ZONE = AMS
    assert IncomingCursor.modified_value("2024-03-31T01:59:59") == str(wall_ms(datetime(2024, 3, 31, 1, 59, 59)))
    assert IncomingCursor.modified_value("2024-03-31T01:30:00Z") == str(wall_ms(datetime(2024, 3, 31, 3, 30)))
    assert IncomingCursor.modified_value("2024-10-27T02:30:00+01:00") == str(wall_ms(datetime(2024, 10, 27, 2, 30)))
    assert IncomingCursor.modified_value("yesterday") is None
    cursor = IncomingCursor(kind=IncomingCursor.Kind.MODIFIED, value=str(wall_ms(datetime(2024, 10, 27, 2, 30))))
    assert cursor.wall_clock == "2024-10-27 02:30:00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/Date(1382667872203)/", datetime(2013, 10, 25, 0, 24, 32, 203000, tzinfo=UTC)),  # 02:24 CEST
        ("/Date(1382667872203+0200)/", datetime(2013, 10, 25, 2, 24, 32, 203000, tzinfo=UTC)),  # an explicit offset
        ("/Date(-1000)/", datetime(1969, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("2018-08-10T13:14:50.07", datetime(2018, 8, 10, 11, 14, 50, 70000, tzinfo=UTC)),  # E3: no offset
        ("2018-08-10T13:14:50Z", datetime(2018, 8, 10, 13, 14, 50, tzinfo=UTC)),
        ("2018-08-10T15:14:50+02:00", datetime(2018, 8, 10, 13, 14, 50, tzinfo=UTC)),
        ("2026-06-25T16:21:03.123456", datetime(2026, 6, 25, 14, 21, 3, 123456, tzinfo=UTC)),
    ],
)
def test_parses_exact_formats_to_aware_utc(raw, expected):
    value = parse_exact_datetime(raw)
    assert value == expected
    assert value.tzinfo is UTC


@pytest.mark.parametrize("junk", ["", "yesterday", "/Date(abc)/", "2024-13-01"])
def test_rejects_junk(junk):
    with pytest.raises(ValueError):
        parse_exact_datetime(junk)


def test_filter_literal_always_has_a_time_part():
    assert to_exact_filter_literal(datetime(2024, 1, 31)) == "datetime'2024-01-31T00:00:00.000'"  # naive: wall
    local = to_exact_filter_literal(datetime(2024, 1, 31, 12, 0, 0, 5000, tzinfo=UTC))
    assert local == "datetime'2024-01-31T13:00:00.005'"


def test_rate_limit_resets_are_real_utc_epochs():
    assert from_epoch_ms(1_700_000_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_round_trip_through_the_wall_clock(dt):
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    raw = to_exact(dt, AMS)
    back = parse_exact_datetime(raw)
    # Only the repeated autumn hour cannot come back as its second occurrence (Exact cannot tell it either).
    assert back == dt or back == dt - timedelta(hours=1)
    assert wall_clock(wall_clock_ms(dt, AMS)) == dt.astimezone(parse_date("/Date(0)/", AMS).tzinfo).replace(
        tzinfo=None)
    offset = timezone(timedelta(hours=2))
    assert parse_exact_datetime(dt.astimezone(offset).isoformat()) == dt
