"""Value setter, Copy, Move / rename, Remove keys and Key mapper."""

from __future__ import annotations

import pytest

from connections.transformers import TransformError

from .helpers import one, step


def test_set_value_literal_template_and_only_if_missing():
    entity = {"Name": "Zoë", "Code": "", "Nothing": None}
    out = one(
        [
            step("set_value", path="Source", value="exact"),
            step("set_value", path="Label", template="&{Name} (&{Code|?})"),
            step("set_value", path="Name", value="other", only_if_missing=True),
            step("set_value", path="Nothing", value=0, only_if_missing=True),
        ],
        entity,
    )
    assert out == {"Name": "Zoë", "Code": "", "Nothing": 0, "Source": "exact", "Label": "Zoë ()"}
    assert entity["Nothing"] is None  # the input is never changed


def test_set_value_on_every_list_item():
    out = one([step("set_value", path="Lines.*.Currency", value="EUR")], {"Lines": [{}, {"a": 1}]})
    assert out["Lines"] == [{"Currency": "EUR"}, {"a": 1, "Currency": "EUR"}]


def test_set_value_with_an_object_gives_each_item_its_own_copy():
    out = one(
        [step("set_value", path="Lines.*.Meta", value={"x": []}), step("set_value", path="Lines.0.Meta.x", value=[1])],
        {"Lines": [{}, {}]},
    )
    assert out["Lines"][1]["Meta"] == {"x": []}


def test_copy_plain_wildcard_to_list_and_wildcard_to_wildcard():
    entity = {"Account": {"Code": "C1"}, "Lines": [{"Item": {"Code": "A"}}, {"Item": {"Code": "B"}}]}
    out = one(
        [
            step("copy", source="Account.Code", target="AccountCode"),
            step("copy", source="Lines.*.Item.Code", target="ItemCodes"),
            step("copy", source="Lines.*.Item.Code", target="Lines.*.ItemCode"),
        ],
        entity,
    )
    assert out["AccountCode"] == "C1"
    assert out["ItemCodes"] == ["A", "B"]
    assert [line["ItemCode"] for line in out["Lines"]] == ["A", "B"]


def test_copy_missing_source_skip_null_or_fail():
    assert one([step("copy", source="Nope", target="X")], {"a": 1}) == {"a": 1}
    assert one([step("copy", source="Nope", target="X", if_missing="null")], {}) == {"X": None}
    with pytest.raises(TransformError) as info:
        one([step("copy", source="Nope.Deeper", target="X", if_missing="fail")], {})
    assert info.value.step_index == 0 and info.value.path == "Nope.Deeper"


def test_move_renames_and_removes_source():
    out = one(
        [step("move", source="Naam", target="Name"), step("move", source="Lines.*.Aantal", target="Lines.*.Qty")],
        {"Naam": "Bakkerij", "Lines": [{"Aantal": 2}]},
    )
    assert out == {"Name": "Bakkerij", "Lines": [{"Qty": 2}]}


def test_remove_paths_and_nulls_at_any_depth():
    out = one(
        [step("remove", paths=["Secret", "Lines.*.Internal"], drop_nulls=True)],
        {"Secret": 1, "A": None, "Lines": [{"Internal": 1, "B": None, "C": 0}]},
    )
    assert out == {"Lines": [{"C": 0}]}


def test_key_mapper_keeps_order_and_can_drop_unmapped():
    out = one(
        [step("key_map", mapping={"Code": "AccountCode", "Naam": "Name"})], {"Naam": "X", "Code": "C", "Other": 1}
    )
    assert list(out) == ["Name", "AccountCode", "Other"]
    out = one(
        [step("key_map", path="Lines.*", mapping={"Art": "Item"}, unmapped="drop")], {"Lines": [{"Art": 1, "x": 2}]}
    )
    assert out == {"Lines": [{"Item": 1}]}


def test_key_mapper_on_a_non_object_fails_naming_the_path():
    with pytest.raises(TransformError) as info:
        one([step("key_map", path="Lines.*", mapping={"a": "b"})], {"Lines": [1]})
    assert info.value.path == "Lines.0" and "object" in info.value.message


def test_unicode_keys_and_values_in_paths_and_templates():
    out = one(
        [
            step("move", source="Adres.Straße", target="street"),
            step("set_value", path="Groet", template="Dag &{Naam} ☕"),
            step("key_map", mapping={"Naam": "名前"}),
        ],
        {"Naam": "Zoë", "Adres": {"Straße": "Kerkstraat 1"}},
    )
    assert out == {"名前": "Zoë", "Adres": {}, "street": "Kerkstraat 1", "Groet": "Dag Zoë ☕"}
