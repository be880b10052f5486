"""The sandbox's own $filter parser: the OData subset Exact supports, compiled to SQL and evaluated in Python."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.odata import (
    ODataError,
    compile_sql,
    evaluate,
    format_literal,
    iso_to_ms,
    parse_filter,
    parse_literal_list,
    parse_orderby,
)

GUID = "0b0f6f3e-6d8e-4c84-9d7e-0f2b7b1a000"
ROWS = [
    {"ID": GUID + "1", "Name": "Bakkerij Jansen", "Code": "            1001", "City": "Delft",
     "Modified": iso_to_ms("2024-03-01T10:00:00"), "Amount": 10.5, "Blocked": False, "Timestamp": 500, "Note": None},
    {"ID": GUID + "2", "Name": "Fietsen de Vries", "Code": "            1002", "City": "Gent",
     "Modified": iso_to_ms("2024-05-01T00:00:00"), "Amount": 99.0, "Blocked": True, "Timestamp": 900, "Note": "x"},
    {"ID": GUID + "3", "Name": "O'Brien Techniek", "Code": "            1003", "City": "delft",
     "Modified": iso_to_ms("2023-12-31T23:59:59"), "Amount": 0.0, "Blocked": False, "Timestamp": 1200, "Note": None},
]


def _sql_matches(text: str) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE r (data TEXT)")
    db.executemany("INSERT INTO r VALUES (?)", [(json.dumps(r),) for r in ROWS])
    where, params = compile_sql(parse_filter(text), lambda name: f"json_extract(data, '$.{name}')")
    return [json.loads(d)["Name"] for (d,) in db.execute(f"SELECT data FROM r WHERE {where}", params)]


def _py_matches(text: str) -> list[str]:
    ast = parse_filter(text)
    return [r["Name"] for r in ROWS if evaluate(ast, r)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Name eq 'Bakkerij Jansen'", ["Bakkerij Jansen"]),
        ("City eq 'DELFT'", ["Bakkerij Jansen", "O'Brien Techniek"]),  # SQL Server collation: case-insensitive
        ("Name eq 'O''Brien Techniek'", ["O'Brien Techniek"]),
        ("ID eq guid'0B0F6F3E-6D8E-4C84-9D7E-0F2B7B1A0002'", ["Fietsen de Vries"]),
        ("Modified ge datetime'2024-01-01'", ["Bakkerij Jansen", "Fietsen de Vries"]),
        ("Modified lt datetime'2024-01-01T00:00:00'", ["O'Brien Techniek"]),
        ("Timestamp gt 600L", ["Fietsen de Vries", "O'Brien Techniek"]),
        ("Timestamp le 900L and Amount gt 50", ["Fietsen de Vries"]),
        ("Amount ge 10.5 or City eq 'Gent'", ["Bakkerij Jansen", "Fietsen de Vries"]),
        ("not (City eq 'Gent')", ["Bakkerij Jansen", "O'Brien Techniek"]),
        ("Blocked eq true", ["Fietsen de Vries"]),
        ("Blocked", ["Fietsen de Vries"]),
        ("Blocked eq false and (Amount eq 0 or Name eq 'Bakkerij Jansen')", ["Bakkerij Jansen", "O'Brien Techniek"]),
        ("Note eq null", ["Bakkerij Jansen", "O'Brien Techniek"]),
        ("Note ne null", ["Fietsen de Vries"]),
        ("City ne 'Gent'", ["Bakkerij Jansen", "O'Brien Techniek"]),
        ("substringof('vries', Name)", ["Fietsen de Vries"]),
        ("startswith(Name, 'bakk') eq true", ["Bakkerij Jansen"]),
        ("startswith(Name, 'bakk')", ["Bakkerij Jansen"]),
        ("endswith(Name, 'techniek')", ["O'Brien Techniek"]),
        ("trim(Code) eq '1002'", ["Fietsen de Vries"]),
        ("Code eq '            1003'", ["O'Brien Techniek"]),
        ("tolower(City) eq 'delft' and Amount lt 5", ["O'Brien Techniek"]),
        ("Name eq 'a' or Name eq 'b' or Name eq 'Fietsen de Vries'", ["Fietsen de Vries"]),
    ],
)
def test_sql_and_python_agree_on_each_expression(expression: str, expected: list[str]) -> None:
    assert _sql_matches(expression) == expected
    assert _py_matches(expression) == expected


def test_and_binds_tighter_than_or() -> None:
    ast = parse_filter("A eq 1 or B eq 2 and C eq 3")
    assert ast[0] == "or"
    assert ast[2][0] == "and"


@pytest.mark.parametrize(
    "bad",
    ["", "Name eq", "Name eq 'unterminated", "(Name eq 'x'", "Name eq 'x')", "Name xx 'y'", "guid'nope' eq ID",
     "unknownfn(Name)", "substringof('x')", "Modified gt datetime'yesterday'", "Name eq 'x' and", "eq 'x'"],
)
def test_refuses_what_exact_would_refuse(bad: str) -> None:
    with pytest.raises(ODataError):
        parse_filter(bad)


def test_literals() -> None:
    assert parse_filter("X eq 123L")[3] == ("lit", 123, "long")
    assert parse_filter("X eq 1.5")[3] == ("lit", 1.5, "float")
    assert parse_filter("X eq -7")[3] == ("lit", -7, "int")
    assert parse_filter("X eq datetime'1970-01-01T00:00:01'")[3] == ("lit", 1000, "datetime")


def test_skiptoken_round_trip() -> None:
    token = ",".join([format_literal(iso_to_ms("2018-09-21T04:18:55.617"), "Edm.DateTime"),
                      format_literal("cbddbd5c-0000-4000-8000-000000000001", "Edm.Guid"),
                      format_literal(12, "Edm.Int64"), format_literal("O'Hara", "Edm.String")])
    assert token == "datetime'2018-09-21T04:18:55.617',guid'cbddbd5c-0000-4000-8000-000000000001',12L,'O''Hara'"
    assert parse_literal_list(token) == [iso_to_ms("2018-09-21T04:18:55.617"), "cbddbd5c-0000-4000-8000-000000000001",
                                         12, "O'Hara"]


def test_orderby() -> None:
    known = {"modified": "Modified", "name": "Name"}.get
    assert parse_orderby("Modified desc, name", lambda n: known(n.lower())) == [("Modified", True), ("Name", False)]
    with pytest.raises(ODataError):
        parse_orderby("Nope asc", lambda n: known(n.lower()))
    with pytest.raises(ODataError):
        parse_orderby("Name sideways", lambda n: known(n.lower()))


# --- property: the SQL compilation and the Python evaluation agree on any expression -------------------

_COMPARABLE = {
    "Name": st.sampled_from(["'Bakkerij Jansen'", "'fietsen de vries'", "'zzz'", "'B'", "null"]),
    "City": st.sampled_from(["'Delft'", "'gent'", "'Utrecht'", "null"]),
    "Amount": st.sampled_from(["0", "10.5", "50", "99", "-1", "null"]),
    "Timestamp": st.sampled_from(["500L", "899L", "900L", "2000L"]),
    "Modified": st.sampled_from(["datetime'2024-01-01'", "datetime'2024-03-01T10:00:00'", "datetime'2030-01-01'"]),
    "Note": st.sampled_from(["'x'", "'y'", "null"]),
    "Blocked": st.sampled_from(["true", "false", "null"]),
}


@st.composite
def _atoms(draw) -> str:
    kind = draw(st.sampled_from(["cmp", "cmp", "cmp", "fn", "bool"]))
    if kind == "cmp":
        field = draw(st.sampled_from(sorted(_COMPARABLE)))
        op = draw(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]))
        return f"{field} {op} {draw(_COMPARABLE[field])}"
    if kind == "fn":
        fn = draw(st.sampled_from(["substringof('{v}', {f})", "startswith({f}, '{v}')", "endswith({f}, '{v}')",
                                   "trim({f}) eq '{v}'", "tolower({f}) eq '{v}'", "startswith({f}, '{v}') eq false"]))
        return fn.format(f=draw(st.sampled_from(["Name", "City", "Note"])), v=draw(st.sampled_from(
            ["", "a", "de", "Delft", "x", "sen", "O'"])).replace("'", "''"))
    return draw(st.sampled_from(["Blocked", "not Blocked"]))


_expressions = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda e: f"not ({e})"),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(_expressions)
def test_sql_and_python_agree_on_random_expressions(expression: str) -> None:
    assert _sql_matches(expression) == _py_matches(expression), expression
