"""The transformer limits protect route runs: an entity whose chain makes too much fails its own task with
the reason; the other entities of the page become tasks as usual. The request transformer is capped too."""

from __future__ import annotations

import pytest

from connections.flow import routing
from connections.flow.read import _save_page, request_hook_for, subscriber_for
from connections.models import Run, Task, Transformer
from connections.subscribers import Page, ReadError

SPLIT_WITH_PARENT = [{"type": "split", "params": {"path": "Lines.*", "parent_key": "order"}}]


def test_an_entity_over_the_limits_fails_its_task_and_nothing_else_is_lost(make_route, settings):
    settings.TRANSFORM_MAX_BYTES = 200_000
    route = make_route()
    route.set_transformers([Transformer.objects.create(name="lines", steps=SPLIT_WITH_PARENT)])
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
    huge = {"ID": "huge", "Lines": [{"i": n} for n in range(2000)]}  # 22 KB: every branch copies all lines
    small = {"ID": "small", "Lines": [{"i": n} for n in range(3)]}
    page = Page(division=101002, number=1, entities=[huge, small], next_url=None, endpoint="crm/Accounts")
    _save_page(run, subscriber_for(route.incoming), page, routing.chain_transform(route))
    failed = Task.objects.get(identifier="huge")
    assert failed.status == Task.Status.FAILED
    assert failed.error.startswith("Transformer lines: step ")
    assert "(split): more than 200 KB of data, the limit per task" in failed.error
    made = Task.objects.filter(identifier="small")
    assert made.count() == 3 and all(t.status == Task.Status.NEW for t in made)
    assert made.first().transformed["order"] == {"ID": "small", "Lines": [{"i": 0}, {"i": 1}, {"i": 2}]}
    run.refresh_from_db()
    assert run.tasks_failed == 1 and run.tasks_created == 4 and run.entities_read == 2


def test_the_dry_run_shows_the_limit_as_the_reason(make_route, settings):
    settings.TRANSFORM_MAX_ENTITIES = 10
    route = make_route()
    route.set_transformers([Transformer.objects.create(name="lines", steps=SPLIT_WITH_PARENT)])
    rows = routing.dry_run(route, entities=[{"ID": "x", "Lines": [{"i": n} for n in range(11)]}])
    assert rows[0]["status"] == "failed"
    assert "more than 10 entities, the limit per task" in rows[0]["error"]


def test_the_incoming_request_transformer_has_the_same_limits(make_route, settings):
    settings.TRANSFORM_MAX_SECONDS = 0  # any step takes longer than that
    incoming = make_route().incoming
    incoming.transformer = Transformer.objects.create(
        name="request", steps=[{"type": "set_value", "params": {"path": "query.$top", "value": 10}}])
    incoming.save()
    hook = request_hook_for(incoming)
    with pytest.raises(ReadError, match="longer than 0 s, the time limit per task"):
        hook({"path": {}, "query": {}, "cursor": None})
