"""The one parser for JSON a person typed: what it refuses, and that it never raises RecursionError."""

from __future__ import annotations

import pytest

from lib.json_input import MAX_JSON_DEPTH, JSONInputError, parse_json


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"Amount": NaN}', "NaN is not a JSON value"),
        ('[Infinity]', "Infinity is not a JSON value"),
        ('{"Amount": -Infinity}', "-Infinity is not a JSON value"),
        ('{"Amount": 1e999}', "out of range"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "nested too deeply"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested too deeply"),
        ('{"Name": "a\\u0000b"}', "NUL character"),
        ('{"a\\u0000": 1}', "NUL character"),
        ("{oops", "Expecting property name"),
        ("", "Expecting value"),
    ],
)
def test_refuses_with_a_reason(text, reason):
    with pytest.raises(JSONInputError, match=reason):
        parse_json(text)


def test_accepts_ordinary_json_up_to_the_depth_limit():
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(deep) is not None
    assert parse_json('{"Amount": 1.5, "Lines": [{"Qty": 2}], "Note": null, "Big": 12345678901234567890}') == {
        "Amount": 1.5, "Lines": [{"Qty": 2}], "Note": None, "Big": 12345678901234567890}
    assert parse_json(b'"Zo\xc3\xab"') == "Zoë"


def test_is_a_value_error_for_callers_that_catch_those():
    assert issubclass(JSONInputError, ValueError)
