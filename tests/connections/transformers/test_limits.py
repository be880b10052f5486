"""The engine's budget: what each step may make is charged before it copies, nested steps included."""

from __future__ import annotations

import json

import pytest

from connections.transformers import Budget, LimitExceeded, Limits, json_size, run_chain


def test_json_size_is_close_to_the_json_text_and_stops_at_the_cap():
    value = {"Name": "Zoë", "Lines": [{"Qty": 2, "Item": "A"}, {"Qty": 3, "Item": None}], "Ok": True}
    text = json.dumps(value)
    assert len(text) * 0.8 <= json_size(value) <= len(text) * 1.6
    assert json_size([value] * 1000, cap=500) < json_size([value] * 1000) / 10  # stopped early


def test_a_split_inside_a_conditional_counts_what_earlier_entities_made():
    chain = [
        {"type": "split", "params": {"path": "Orders"}},
        {"type": "conditional", "params": {"condition": "`true`", "then": [
            {"type": "split", "params": {"path": "Lines"}}]}},
    ]
    entity = {"Orders": [{"Lines": list(range(40))} for _ in range(40)]}  # 1,600 lines in all
    with pytest.raises(LimitExceeded, match="more than 1,000 entities, the limit per task") as caught:
        run_chain(chain, entity, trace=False, budget=Budget(Limits(max_entities=1000)))
    assert caught.value.location in ("1", "1.then.0")
    assert len(run_chain(chain, entity, trace=False, budget=Budget(Limits(max_entities=2000))).entities) == 1600


def test_results_kept_by_the_caller_count_until_a_new_stage():
    budget = Budget(Limits(max_entities=5))
    chain = [{"type": "split", "params": {"path": "L"}}]
    budget.keep(run_chain(chain, {"L": [1, 2, 3]}, trace=False, budget=budget).entities)
    with pytest.raises(LimitExceeded):
        run_chain(chain, {"L": [1, 2, 3]}, trace=False, budget=budget)
    budget.new_stage()
    assert len(run_chain(chain, {"L": [1, 2, 3]}, trace=False, budget=budget).entities) == 3


def test_the_time_limit_uses_the_budget_clock():
    now = [0.0]
    budget = Budget(Limits(max_seconds=5), clock=lambda: now[0])
    chain = [{"type": "set_value", "params": {"path": "a", "value": 1}}]
    assert run_chain(chain, {}, trace=False, budget=budget).entities == [{"a": 1}]
    now[0] = 6.0
    with pytest.raises(LimitExceeded, match="longer than 5 s, the time limit per task"):
        run_chain(chain, {}, trace=False, budget=budget)
