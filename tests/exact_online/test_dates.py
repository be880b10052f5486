from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exact_online.dates import from_epoch_ms, parse_exact_datetime, to_exact_filter_literal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/Date(1382667872203)/", datetime(2013, 10, 25, 2, 24, 32, 203000, tzinfo=UTC)),
        ("/Date(1382667872203+0200)/", datetime(2013, 10, 25, 2, 24, 32, 203000, tzinfo=UTC)),
        ("/Date(-1000)/", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2018-08-10T13:14:50.07", datetime(2018, 8, 10, 13, 14, 50, 70000, tzinfo=UTC)),
        ("2018-08-10T13:14:50Z", datetime(2018, 8, 10, 13, 14, 50, tzinfo=UTC)),
        ("2018-08-10T15:14:50+02:00", datetime(2018, 8, 10, 13, 14, 50, tzinfo=UTC)),
        ("2026-06-25T16:21:03.1234567", datetime(2026, 6, 25, 16, 21, 3, 123456, tzinfo=UTC)),
    ],
)
def test_parses_exact_formats_to_aware_utc(raw, expected):
    value = parse_exact_datetime(raw)
    assert value == expected
    assert value.tzinfo is UTC


def test_naive_values_are_read_in_the_given_zone():
    value = parse_exact_datetime("2024-07-01T12:00:00", assume_tz=ZoneInfo("Europe/Amsterdam"))
    assert value == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("junk", ["", "yesterday", "/Date(abc)/", "2024-13-01"])
def test_rejects_junk(junk):
    with pytest.raises(ValueError):
        parse_exact_datetime(junk)


def test_filter_literal_always_has_a_time_part():
    assert to_exact_filter_literal(datetime(2024, 1, 31, tzinfo=UTC)) == "datetime'2024-01-31T00:00:00.000'"
    local = to_exact_filter_literal(datetime(2024, 1, 31, 12, 0, 0, 5000, tzinfo=UTC), tz=ZoneInfo("Europe/Amsterdam"))
    assert local == "datetime'2024-01-31T13:00:00.005'"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_dotnet_round_trip(dt):
    ms = int(dt.timestamp() * 1000)
    assert parse_exact_datetime(f"/Date({ms})/") == from_epoch_ms(ms)
    offset = timezone(timedelta(hours=2))
    assert parse_exact_datetime(dt.astimezone(offset).isoformat()) == dt
