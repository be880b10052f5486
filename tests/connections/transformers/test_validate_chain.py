"""Bad chains are refused with the step and the reason."""

from __future__ import annotations

import json

import pytest

from connections.transformers import MAX_DEPTH, ChainInvalid, TransformError, compile_chain, run_chain, validate_chain

from .helpers import step


def _only(errors):
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_chain_has_no_errors():
    assert validate_chain([step("set_value", path="a", value=1)]) == []
    assert validate_chain(json.dumps({"steps": []})) == []


@pytest.mark.parametrize(
    ("chain", "needle"), [("{not json", "invalid JSON"), ('{"a": 1}', "list of steps"), ("3", "list of steps")]
)
def test_invalid_json_or_shape(chain, needle):
    error = _only(validate_chain(chain))
    assert error.step_index == -1 and needle in error.message


def test_unknown_step_type_and_keys():
    errors = validate_chain(
        [
            step("set_value", path="a"),
            {"type": "teleport"},
            {"type": "copy", "params": {"source": "a", "target": "b"}, "colour": 1},
        ]
    )
    assert [(e.step_index, e.field) for e in errors] == [(1, "type"), (2, "")]
    assert "unknown step type 'teleport'" in errors[0].message


def test_missing_and_unexpected_parameters():
    errors = validate_chain([step("copy", source="a"), step("copy", source="a", target="b", colour="red")])
    assert {(e.step_index, e.field) for e in errors} == {(0, "target"), (1, "colour")}


def test_bad_jmespath_names_the_step_and_field():
    error = _only(validate_chain([step("set_value", path="a"), step("filter", condition="Status ==")]))
    assert (error.step_index, error.step_type, error.field) == (1, "filter", "condition")
    assert "JMESPath" in error.message


@pytest.mark.parametrize("bad", ["a..b", "Lines.*x", ""])
def test_paths_that_cannot_match_are_refused(bad):
    error = _only(validate_chain([step("cast", path=bad, to="string")]))
    assert error.field == "path"


def test_wildcard_targets_must_follow_the_source():
    error = _only(validate_chain([step("copy", source="a", target="Lines.*.b")]))
    assert error.field == "target" and "wildcards" in error.message


def test_duplicate_mapping_keys_are_refused():
    error = _only(validate_chain([step("key_map", mapping={"a": "x", "b": "x"})]))
    assert "both map to 'x'" in error.message


def _nested(depth):
    chain = [step("set_value", path="leaf", value=1)]
    for _ in range(depth):
        chain = [step("conditional", condition="`true`", then=chain)]
    return chain


def test_nesting_up_to_the_limit_runs_and_deeper_is_refused():
    assert validate_chain(_nested(MAX_DEPTH)) == []
    assert run_chain(_nested(MAX_DEPTH), {}).entities == [{"leaf": 1}]
    error = _only(validate_chain(_nested(MAX_DEPTH + 1)))
    assert error.step_index == 0 and "nested too deep" in error.message
    assert error.location == ".".join(["0"] + ["then.0"] * MAX_DEPTH)


def test_errors_in_nested_steps_carry_their_location():
    error = _only(
        validate_chain(
            [step("set_value", path="x"), step("conditional", condition="a", else_=[step("cast", path="a", to="nope")])]
        )
    )
    assert error.step_index == 1 and error.location == "1.else.0" and error.field == "to"


def test_compile_raises_chain_invalid_and_run_raises_transform_error():
    with pytest.raises(ChainInvalid):
        compile_chain([{"type": "teleport"}])
    with pytest.raises(TransformError, match="unknown step type"):
        run_chain([{"type": "teleport"}], {})
