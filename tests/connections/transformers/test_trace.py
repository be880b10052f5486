"""The per-step trace: what each step changed, how long it took, disabled steps, nested locations."""

from __future__ import annotations

import pytest

from connections.transformers import TransformError, run_chain

from .helpers import step


def test_trace_has_one_record_per_step_with_diff_and_timing():
    chain = [
        step("set_value", path="Added", value=1),
        {"type": "remove", "params": {"paths": ["Name"]}, "disabled": True},
        step("move", source="Code", target="AccountCode"),
        step("conditional", condition="Added == `1`", then=[step("cast", path="Added", to="string")]),
    ]
    result = run_chain(chain, {"Name": "Zoë", "Code": "C1"})
    assert [(t.location, t.step_type) for t in result.trace] == [
        ("0", "set_value"),
        ("1", "remove"),
        ("2", "move"),
        ("3", "conditional"),
        ("3.then.0", "cast"),
    ]
    assert result.trace[0].diff == [{"op": "add", "path": "Added", "after": 1}]
    assert result.trace[1].disabled and result.trace[1].diff == []
    assert {d["op"] for d in result.trace[2].diff} == {"add", "remove"}
    assert result.trace[4].depth == 1 and result.trace[4].diff == [
        {"op": "change", "path": "Added", "before": 1, "after": "1"}
    ]
    assert all(t.duration_ms >= 0 for t in result.trace) and result.entities == [
        {"Name": "Zoë", "Added": "1", "AccountCode": "C1"}
    ]


def test_no_trace_when_not_asked_and_same_result():
    chain = [step("set_value", path="a", value=1)]
    assert run_chain(chain, {}, trace=False).trace == []
    assert run_chain(chain, {}, trace=False).entities == run_chain(chain, {}).entities


def test_failure_keeps_the_trace_up_to_the_failing_step():
    with pytest.raises(TransformError) as info:
        run_chain([step("set_value", path="a", value="soon"), step("cast", path="a", to="date")], {})
    assert info.value.step_index == 1 and [t.step_type for t in info.value.trace] == ["set_value"]
