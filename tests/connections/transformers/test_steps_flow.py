"""Conditional, Filter / skip entity, Get branches (split), Merge / group and Expression."""

from __future__ import annotations

import pytest

from connections.transformers import TransformError

from .helpers import one, run, step

ORDER = {
    "OrderNumber": 10,
    "Status": 12,
    "Lines": [
        {"Item": "A", "Qty": 1, "Price": 2.5},
        {"Item": "B", "Qty": 2, "Price": 1},
        {"Item": "A", "Qty": 3, "Price": 2.5},
    ],
}


def test_conditional_runs_then_or_else():
    chain = [
        step(
            "conditional",
            condition="Status == `12`",
            then=[step("set_value", path="Open", value=True)],
            else_=[step("set_value", path="Open", value=False)],
        )
    ]
    assert one(chain, ORDER)["Open"] is True
    assert one(chain, {"Status": 21})["Open"] is False


def test_conditional_nested_split_and_filter_inside():
    chain = [
        step(
            "conditional",
            condition="length(Lines) > `1`",
            then=[step("split", path="Lines"), step("filter", condition="Item == 'A'")],
        )
    ]
    result = run(chain, ORDER)
    assert [line["Qty"] for line in result.entities] == [1, 3]
    assert len(result.skipped) == 1


def test_filter_keep_skip_and_reason():
    result = run([step("filter", condition="Status == `20`", reason="Order &{OrderNumber} is not invoiced")], ORDER)
    assert result.entities == [] and result.skipped_reason == "Order 10 is not invoiced"
    result = run([step("filter", condition="Status == `12`", action="skip")], ORDER)
    assert result.entities == [] and "Status == `12` held" in result.skipped_reason
    assert run([step("filter", condition="Status == `12`")], ORDER).entities == [ORDER]


def test_split_one_per_line_with_parent_fields():
    result = run([step("split", path="Lines", parent_fields={"OrderNumber": "OrderNumber", "Missing": "Nope"})], ORDER)
    assert len(result.entities) == 3
    assert result.entities[1] == {"Item": "B", "Qty": 2, "Price": 1, "OrderNumber": 10, "Missing": None}


def test_split_with_parent_key_drops_the_list_from_the_parent():
    result = run([step("split", path="Lines", parent_key="Order")], ORDER)
    assert result.entities[0]["Order"] == {"OrderNumber": 10, "Status": 12}


def test_split_empty_list_skips_or_keeps_and_non_list_fails():
    assert run([step("split", path="Lines")], {"Lines": []}).skipped_reason.endswith("no items at Lines")
    assert run([step("split", path="Lines", when_empty="keep")], {"Lines": []}).entities == [{"Lines": []}]
    with pytest.raises(TransformError) as info:
        run([step("split", path="Lines")], {"Lines": "x"})
    assert info.value.step_type == "split" and "expected a list" in info.value.message


def test_split_on_wildcard_collects_items():
    result = run([step("split", path="Orders.*.Lines.*")], {"Orders": [{"Lines": [1, 2]}, {"Lines": [3]}]})
    assert result.entities == [1, 2, 3]


def test_merge_groups_entities_of_the_run_after_a_split_and_sums():
    result = run([step("split", path="Lines"), step("merge", group_by="Item", sum=["Qty"])], ORDER)
    assert result.entities == [{"Item": "A", "Qty": 4, "Price": 2.5}, {"Item": "B", "Qty": 2, "Price": 1}]


def test_merge_collect_inside_an_entity():
    out = one([step("merge", path="Lines", group_by="Item", mode="collect", into="lines")], ORDER)
    assert [group["Item"] for group in out["Lines"]] == ["A", "B"]
    assert len(out["Lines"][0]["lines"]) == 2


def test_merge_refuses_non_objects_and_non_numbers():
    with pytest.raises(TransformError):
        run([step("merge", path="Lines", group_by="x")], {"Lines": [1]})
    with pytest.raises(TransformError) as info:
        run([step("merge", path="Lines", sum=["Qty"])], {"Lines": [{"Qty": "2"}]})
    assert info.value.path == "Lines.0.Qty"


def test_expression_reshapes_or_writes_to_a_target():
    out = one([step("expression", expression="{number: OrderNumber, items: Lines[].Item}")], ORDER)
    assert out == {"number": 10, "items": ["A", "B", "A"]}
    out = one([step("expression", expression="sum(Lines[].Qty)", target="TotalQty")], ORDER)
    assert out["TotalQty"] == 6


def test_expression_type_errors_become_transform_errors():
    with pytest.raises(TransformError) as info:
        one([step("expression", expression="sum(Lines)")], {"Lines": ["a"]})
    assert info.value.step_type == "expression" and "expression failed" in info.value.message
