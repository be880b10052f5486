"""Dot paths with wildcards, and &{...} placeholders."""

from __future__ import annotations

import pytest

from connections.transformers import paths, placeholders
from connections.transformers.errors import StepFailure

ORDER = {
    "OrderNumber": 7,
    "Account": {"Name": "Café Zoë", "Code": None},
    "SalesOrderLines": {"results": [{"Item": "A", "Qty": 1}, {"Item": "B", "Qty": 2}]},
}


def test_get_plain_and_list_index():
    assert paths.get(ORDER, paths.parse("Account.Name")) == "Café Zoë"
    assert paths.get(ORDER, paths.parse("SalesOrderLines.results.1.Item")) == "B"
    assert paths.get(ORDER, paths.parse("SalesOrderLines.results.5.Item")) is paths.MISSING
    assert paths.get(ORDER, paths.parse("Account.Code.Deeper")) is paths.MISSING
    assert paths.get(ORDER, paths.parse("")) is ORDER


def test_find_expands_wildcards_with_concrete_paths():
    found = paths.find(ORDER, paths.parse("SalesOrderLines.results.*.Item"))
    assert found == [(("SalesOrderLines", "results", 0, "Item"), "A"), (("SalesOrderLines", "results", 1, "Item"), "B")]
    assert paths.find(ORDER, paths.parse("Missing.*.Item")) == []


def test_assign_creates_objects_and_sets_every_wildcard_match():
    data = paths.clone(ORDER)
    paths.assign(data, paths.parse("Extra.Deep.Value"), 1)
    paths.assign(data, paths.parse("SalesOrderLines.results.*.Currency"), "EUR")
    assert data["Extra"] == {"Deep": {"Value": 1}}
    assert [line["Currency"] for line in data["SalesOrderLines"]["results"]] == ["EUR", "EUR"]
    assert ORDER["SalesOrderLines"]["results"][0].get("Currency") is None  # clone is deep


def test_assign_into_a_scalar_fails_with_the_path():
    with pytest.raises(StepFailure) as info:
        paths.assign({"OrderNumber": 7}, paths.parse("OrderNumber.Sub"), 1)
    assert "number" in info.value.message


def test_delete_counts_and_ignores_missing():
    data = paths.clone(ORDER)
    assert paths.delete(data, paths.parse("SalesOrderLines.results.*.Qty")) == 2
    assert paths.delete(data, paths.parse("Nope.Nothing")) == 0
    assert data["SalesOrderLines"]["results"] == [{"Item": "A"}, {"Item": "B"}]


@pytest.mark.parametrize("text", ["a..b", ".a", "a.", "a.b*", " a"])
def test_bad_paths_are_explained(text):
    assert paths.check_path(text)


def test_placeholders_keep_type_when_whole_and_interpolate_text():
    assert placeholders.render("&{OrderNumber}", ORDER) == 7
    assert placeholders.render("Order &{OrderNumber} for &{Account.Name}", ORDER) == "Order 7 for Café Zoë"
    assert placeholders.render("&{Account.Code|none}", ORDER) == "none"
    assert placeholders.render("[&{Missing}]", ORDER) == "[]"
    assert placeholders.render("&{SalesOrderLines.results.*.Item}", ORDER) == ["A", "B"]
    assert placeholders.render("items: &{SalesOrderLines.results.*.Item}", ORDER) == "items: A, B"
    assert placeholders.check_template("&{a..b}")
