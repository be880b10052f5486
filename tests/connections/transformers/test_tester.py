"""The tester behind every Test panel: several entities, truncation, chain and input problems, deferred hashes."""

from __future__ import annotations

import json

from connections.transformers import Context, InMemoryStorage
from connections.transformers.tester import MAX_INPUT_CHARS, MAX_TEST_ENTITIES, test_chain

from .helpers import step


def _context():
    return Context(storage=InMemoryStorage())


def test_a_list_is_one_entity_per_item_and_is_capped():
    items = [{"n": number} for number in range(MAX_TEST_ENTITIES + 5)]
    report = test_chain([step("filter", condition="n != `1`")], json.dumps(items), _context())
    assert len(report.entities) == MAX_TEST_ENTITIES and report.truncated == 5
    assert [e.status for e in report.entities[:3]] == ["ok", "skipped", "ok"]
    assert report.entities[0].trace[0]["step_type"] == "filter" and report.ok


def test_a_list_can_also_be_one_entity():
    report = test_chain([step("expression", expression="length(@)", target="")], "[1, 2]", _context(), each_item=False)
    assert report.entities[0].outputs == [2]


def test_failures_keep_step_path_and_partial_trace():
    chain = [step("set_value", path="a", value="x"), step("cast", path="a", to="integer")]
    report = test_chain(chain, "{}", _context())
    entity = report.entities[0]
    assert entity.status == "failed" and not report.ok
    assert (entity.error["step_index"], entity.error["path"]) == (1, "a")
    assert [t["step_type"] for t in entity.trace] == ["set_value"]
    assert entity.trace[0]["diff"][0]["after_text"] == '"x"'
    assert json.loads(entity.trace[0]["after_json"]) == {"a": "x"}


def test_chain_and_input_problems_are_reported_not_raised():
    assert test_chain('[{"type": "nope"}]', "{}", _context()).chain_errors
    assert "not valid JSON" in test_chain("[]", "{", _context()).input_error
    assert "too large" in test_chain("[]", " " * (MAX_INPUT_CHARS + 1), _context()).input_error


def test_deferred_hashes_are_listed_not_recorded():
    storage = InMemoryStorage()
    chain = [step("skip_unchanged", store="s", key="&{id}", record="deferred")]
    report = test_chain(chain, '{"id": 1}', Context(storage=storage))
    assert report.deferred[0]["key"] == "1" and storage.writes == []


def test_the_tester_partial_can_be_included_on_other_pages():
    from django.template.loader import render_to_string

    html = render_to_string(
        "connections/transformers/_tester.html",
        {
            "transformer_id": 5,
            "sample_input": '{"a": 1}',
            "tester_sources_template": "includes/badge.html",
            "colour": "blue",
            "label": "Load last task",
        },
    )
    assert '<input type="hidden" name="transformer" value="5">' in html
    assert "Load last task" in html and "css/transformers.css" in html and "&quot;a&quot;: 1" in html
