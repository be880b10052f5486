"""Value mapper (with CSV tables) and Cast / format, including Exact dates across daylight-saving changes."""

from __future__ import annotations

import pytest

from connections.transformers import TransformError, table_from_csv, table_to_csv, validate_chain

from .helpers import one, step

TABLE = [
    {"from": "1", "to": "Open"},
    {"from": "2", "to": "Closed"},
    {"from": "ja", "to": True},
    {"from": "null", "to": "none"},
]


def test_value_mapper_matches_numbers_booleans_and_null_by_their_json_text():
    out = one(
        [step("value_map", path="Lines.*.Status", table=TABLE)],
        {"Lines": [{"Status": 1}, {"Status": "2"}, {"Status": None}, {"Status": 9}]},
    )
    assert [line["Status"] for line in out["Lines"]] == ["Open", "Closed", "none", 9]


def test_value_mapper_default_null_fail_and_case():
    assert one([step("value_map", path="S", table=TABLE, when_missing="default", default="?")], {"S": "x"}) == {
        "S": "?"
    }
    assert one([step("value_map", path="S", table=TABLE, when_missing="null")], {"S": "x"}) == {"S": None}
    assert one([step("value_map", path="S", table=TABLE, case_sensitive=False)], {"S": "JA"}) == {"S": True}
    assert one([step("value_map", path="S", table=TABLE)], {"S": "JA"}) == {"S": "JA"}
    assert one([step("value_map", path="Missing", table=TABLE)], {"S": 1}) == {"S": 1}
    with pytest.raises(TransformError) as info:
        one([step("value_map", path="S", table=TABLE, when_missing="fail")], {"S": "zz"})
    assert info.value.path == "S" and "not in the table" in info.value.message


def test_value_mapper_refuses_duplicate_keys_also_case_insensitively():
    errors = validate_chain([step("value_map", path="S", table=[{"from": "A", "to": 1}, {"from": "A", "to": 2}])])
    assert errors and errors[0].field == "table" and "duplicate key 'A'" in errors[0].message
    errors = validate_chain(
        [step("value_map", path="S", case_sensitive=False, table=[{"from": "A", "to": 1}, {"from": "a", "to": 2}])]
    )
    assert errors and "rows 1 and 2" in errors[0].message


def test_csv_import_with_header_semicolons_unicode_and_duplicates():
    assert table_from_csv("from,to\nNL,Nederland\nBE,België\n") == [
        {"from": "NL", "to": "Nederland"},
        {"from": "BE", "to": "België"},
    ]
    assert table_from_csv("a;b\nc;d") == [{"from": "a", "to": "b"}, {"from": "c", "to": "d"}]
    with pytest.raises(ValueError, match="line 3: duplicate key 'NL'"):
        table_from_csv("from,to\nNL,1\nNL,2\n")
    with pytest.raises(ValueError, match="two columns"):
        table_from_csv("only-one\n")
    rows = [{"from": "x,y", "to": 'quote " here'}]
    assert table_from_csv(table_to_csv(rows)) == rows


@pytest.mark.parametrize(
    ("to", "value", "expected"),
    [
        ("string", 12, "12"),
        ("string", 1.0, "1"),
        ("string", True, "true"),
        ("string", {"a": 1}, '{"a":1}'),
        ("integer", "42", 42),
        ("integer", " 7 ", 7),
        ("integer", 3.0, 3),
        ("integer", True, 1),
        ("number", "12,5", 12.5),
        ("number", "1e3", 1000.0),
        ("number", 4, 4),
        ("boolean", "ja", True),
        ("boolean", "Nee", False),
        ("boolean", 0, False),
        ("boolean", "1", True),
        ("string", "Zoë ☕", "Zoë ☕"),
    ],
)
def test_cast_scalars(to, value, expected):
    out = one([step("cast", path="V", to=to)], {"V": value})
    assert out["V"] == expected and type(out["V"]) is type(expected)


@pytest.mark.parametrize(
    ("to", "value"),
    [
        ("integer", "12.5"),
        ("integer", "abc"),
        ("number", "nan"),
        ("boolean", "maybe"),
        ("date", "31-02-2024"),
        ("date", True),
    ],
)
def test_cast_failures_fail_null_or_keep(to, value):
    with pytest.raises(TransformError) as info:
        one([step("cast", path="V", to=to)], {"V": value})
    assert info.value.path == "V" and f"cannot convert to {to}" in info.value.message
    assert one([step("cast", path="V", to=to, on_error="null")], {"V": value}) == {"V": None}
    assert one([step("cast", path="V", to=to, on_error="keep")], {"V": value}) == {"V": value}


def test_cast_leaves_nulls_and_missing_paths_alone():
    assert one([step("cast", path="V", to="integer"), step("cast", path="W", to="date")], {"V": None}) == {"V": None}


# Exact writes wall-clock time in Europe/Amsterdam as if it were UTC milliseconds.


def _exact_ms(text: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("wall", "iso"),
    [
        ("2026-03-29T01:30:00", "2026-03-29T01:30:00+01:00"),  # before the spring change
        ("2026-03-29T03:30:00", "2026-03-29T03:30:00+02:00"),  # after it
        ("2026-10-25T01:30:00", "2026-10-25T01:30:00+02:00"),  # before the autumn change
        ("2026-10-25T03:30:00", "2026-10-25T03:30:00+01:00"),  # after it
        ("2026-10-25T02:30:00", "2026-10-25T02:30:00+02:00"),  # the doubled hour: the first (summer) one
        ("2026-03-29T02:30:00", "2026-03-29T03:30:00+02:00"),  # the skipped hour moves forward
    ],
)
def test_exact_date_to_iso_across_daylight_saving(wall, iso):
    out = one([step("cast", path="D", to="date")], {"D": f"/Date({_exact_ms(wall)})/"})
    assert out["D"] == iso


@pytest.mark.parametrize(
    "wall", ["2026-03-29T01:30:00", "2026-03-29T03:30:00", "2026-10-25T03:30:00", "2024-02-29T23:59:59"]
)
def test_iso_round_trips_to_exact_date(wall):
    chain = [step("cast", path="D", to="date"), step("cast", path="D", to="exact_date")]
    assert one(chain, {"D": f"/Date({_exact_ms(wall)})/"}) == {"D": f"/Date({_exact_ms(wall)})/"}


def test_iso_with_other_offsets_and_utc_reading():
    assert one([step("cast", path="D", to="exact_date")], {"D": "2026-07-01T10:00:00Z"}) == {
        "D": f"/Date({_exact_ms('2026-07-01T12:00:00')})/"
    }
    utc = one([step("cast", path="D", to="date", exact_wallclock=False, format="utc")], {"D": "/Date(0)/"})
    assert utc == {"D": "1970-01-01T00:00:00Z"}
    assert one([step("cast", path="D", to="date", format="date")], {"D": "2026-10-25T23:30:00+00:00"}) == {
        "D": "2026-10-26"
    }
    assert one([step("cast", path="D", to="date", format="%d-%m-%Y")], {"D": "/Date(1382667872203)/"}) == {
        "D": "25-10-2013"
    }
    assert one([step("cast", path="D", to="date", timezone="UTC", epoch_unit="s")], {"D": 86400}) == {
        "D": "1970-01-02T00:00:00+00:00"
    }


def test_unknown_timezone_is_refused():
    errors = validate_chain([step("cast", path="D", to="date", timezone="Mars/Olympus")])
    assert errors and errors[0].field == "timezone"
