"""One way to show values: times in the site's zone in one format, human durations, long values folded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard.templatetags.dash import duration, duration_ms, long_value, relative, sample_table, when


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(microseconds=250_400), "250 ms"), (4.25, "4.2 s"), (timedelta(seconds=185), "3 min 05 s"),
    (7_380, "2 h 03 min"), (None, "—"), (timedelta(days=3, hours=2), "3 d 2 h"),
])
def test_durations_read_like_a_person_says_them(value, text):
    assert duration(value) == text


def test_milliseconds_become_the_same_durations():
    assert duration_ms(1_500) == "1.5 s" and duration_ms(12.4) == "12 ms"


def test_a_moment_is_shown_in_the_site_time_zone_in_one_format_with_a_relative_tooltip(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    moment = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    html = when(moment)
    local = timezone.localtime(moment)
    assert f">{local:%Y-%m-%d %H:%M:%S}</time>" in html and 'title="3 h ago"' in html
    assert relative(timezone.now() + timedelta(minutes=4, seconds=10)) == "in 4 min"
    assert when(None) == "—"
    assert ">2026-07-01 14:00:00<" in when(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))  # summer time
    assert ">2026-07-01 14:00:00<" in when("2026-07-01T12:00:00+00:00")  # kept as ISO text in a JSON field
    assert when("not a moment") == "not a moment"


def test_a_long_select_folds_to_a_count():
    select = ",".join(f"Field{i}" for i in range(150))
    folded = long_value(select)
    assert folded["folded"] and folded["summary"] == "150 fields"
    assert not long_value("ID,Name,City")["folded"]
    assert long_value("x" * 500)["summary"].endswith("(500 characters)")
    url = f"https://start.exactonline.nl/api/v1/101001/crm/Accounts?$select={select}&$top=5"
    assert long_value(url, "characters")["summary"] == f"{url[:60]}… ({len(url):,} characters)"  # not "150 ..."
    line = f"Division 101001: reading crm/Accounts (full read) with $select={select}"
    assert long_value(line, limit=400)["summary"].endswith(f"({len(line):,} characters)")
    assert not long_value("Division 101001: page 1, 11 records, more to come", limit=400)["folded"]


def test_samples_become_rows_and_columns():
    table = sample_table([{"__metadata": {"uri": "u"}, "ID": 1, "Name": "A", "Lines": [1, 2]}, {"ID": 2, "City": None}])
    assert table["columns"] == ["ID", "Name", "Lines", "City"]
    assert table["rows"] == [["1", "A", "[2 items]", "—"], ["2", "—", "—", "—"]]
