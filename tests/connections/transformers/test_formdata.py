"""Step parameters survive the trip through the editor's form fields, for every step type."""

from __future__ import annotations

import pytest

from connections.transformers import STEP_TYPES, compile_chain, validate_chain
from connections.transformers.formdata import field_specs, params_from_form, params_to_form

from .helpers import step

EXAMPLES = {
    "set_value": {"path": "Source", "value": {"a": [1, "x"]}, "only_if_missing": True},
    "copy": {"source": "Lines.*.Item", "target": "Lines.*.Code", "if_missing": "null"},
    "move": {"source": "Naam", "target": "Name"},
    "remove": {"paths": ["A", "Lines.*.B"], "drop_nulls": True},
    "key_map": {"path": "Lines.*", "mapping": {"Art": "Item"}, "unmapped": "drop"},
    "value_map": {
        "path": "S",
        "table": [{"from": "1", "to": "Open"}, {"from": "x,y", "to": "Zoë"}],
        "when_missing": "default",
        "default": 12,
    },
    "cast": {"path": "D", "to": "exact_date", "timezone": "UTC", "exact_wallclock": False, "on_error": "null"},
    "conditional": {"condition": "a == `1`", "then": [step("set_value", path="x", value=1)], "else": []},
    "filter": {"condition": "Status != `20`", "action": "skip", "reason": "closed &{ID}"},
    "split": {"path": "Lines", "parent_fields": {"Order": "OrderNumber"}, "when_empty": "keep"},
    "merge": {"path": "Lines", "group_by": "Item", "mode": "collect", "into": "lines"},
    "expression": {"expression": "{a: a}", "target": "out"},
    "http_lookup": {
        "http_client": 4,
        "path": "crm/Accounts",
        "query": {"$filter": "Code eq '&{Code}'"},
        "result": "d.results[0].ID",
        "target": "ID",
    },
    "storage_get": {"store": "s", "key": "k-&{ID}", "target": "v", "when_missing": "default", "default": "none"},
    "storage_save": {"store": "s", "key": "k-&{ID}", "source": "Lines", "ttl": 3600},
    "skip_unchanged": {"store": "seen", "key": "&{ID}", "fields": ["Name", "Lines.*.Qty"], "record": "deferred"},
}


def test_every_step_type_has_an_example():
    assert set(EXAMPLES) == set(STEP_TYPES)


@pytest.mark.parametrize("step_type", sorted(EXAMPLES))
def test_round_trip_through_form_fields(step_type):
    params = EXAMPLES[step_type]
    assert validate_chain([{"type": step_type, "params": params}]) == []
    texts = params_to_form(step_type, params)
    assert set(texts) == {spec.name for spec in field_specs(step_type)}
    back, problems = params_from_form(step_type, texts)
    assert problems == {}
    expected = compile_chain([{"type": step_type, "params": params}]).steps[0].params
    assert compile_chain([{"type": step_type, "params": back}]).steps[0].params == expected


def test_unreadable_text_is_reported_per_field():
    _, problems = params_from_form("key_map", {"mapping": "{not json"})
    assert "mapping" in problems
    _, problems = params_from_form("value_map", {"path": "S", "table": "a,1\na,2"})
    assert "duplicate key 'a'" in problems["table"]
    params, _ = params_from_form("set_value", {"path": "x", "value": "plain text"})
    assert params["value"] == "plain text"
