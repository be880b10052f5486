"""A lookup that cannot answer yet (its system is down, or the record is not made yet) makes the task wait and
run its chain again before publishing, up to the route's attempts; a refused lookup still fails at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from clients.models import HttpClient
from clients.registry import LOOKUP_PROVIDERS, LookupFailed, LookupProvider
from connections.flow import publish
from connections.flow.read import tasks_for
from connections.flow.routing import chain_transform
from connections.models import Route, RouteRun, Run, Task, Transformer
from connections.subscribers import Page

ANSWERS: list[str] = []  # what the next lookups answer: down, refused, missing, found (the default)


class FlakyLookup(LookupProvider):
    kind = "flaky_lookup_test"
    label = "Flaky lookup (tests)"

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        answer = ANSWERS.pop(0) if ANSWERS else "found"
        if answer == "down":
            raise LookupFailed("the shop did not answer (HTTP 503)", transient=True)
        if answer == "refused":
            raise LookupFailed("HTTP 400: bad filter")
        return {"results": [{"ID": "acc-1"}] if answer == "found" else []}


@pytest.fixture
def flaky() -> Iterator[list[str]]:
    LOOKUP_PROVIDERS.register(FlakyLookup)
    ANSWERS.clear()
    yield ANSWERS
    LOOKUP_PROVIDERS.unregister(FlakyLookup.kind)


def _route(make_route: Any, **fields: Any) -> Route:
    client = HttpClient.objects.create(name="lookups", kind=FlakyLookup.kind, config={})
    route = make_route(**fields)
    route.set_transformers([Transformer.objects.create(name="customer", steps=[
        {"type": "http_lookup", "params": {"http_client": client.pk, "path": "customers",
                                           "result": "results[0].ID", "target": "account",
                                           "when_missing": "wait", "cache": False}}])])
    return route


def _read(route: Route) -> tuple[RouteRun, Task]:
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    page = Page(division=1, number=1, entities=[{"id": "o-1"}], next_url=None, endpoint="orders")
    tasks, _skipped, _failed = tasks_for(run, lambda e: e["id"], page, chain_transform(route))
    Task.objects.bulk_create(tasks)
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    return route_run, Task.objects.get(run=run)


def test_a_lookup_whose_system_is_down_waits_and_publishes_once_it_answers(make_route, script, flaky):
    route = _route(make_route, max_attempts=3, backoff_seconds=10)
    flaky[:] = ["down"]
    _route_run, task = _read(route)
    assert task.status == Task.Status.NEW and task.retransform and "503" in task.error
    flaky[:] = ["missing"]  # up again, but the customer is not there yet
    assert publish.publish_task(task.pk, route) == Task.Status.RETRY
    task.refresh_from_db()
    assert task.next_attempt_at > timezone.now() and "Still waiting (attempt 1 of 3)" in task.log[-1]["message"]
    assert "found nothing yet" in task.error and script.jobs == []
    Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now())
    assert publish.publish_task(task.pk, route) == Task.Status.FINISHED
    task.refresh_from_db()
    assert not task.retransform and task.transformed == {"id": "o-1", "account": "acc-1"}
    assert [job.payload for job in script.jobs] == [{"id": "o-1", "account": "acc-1"}]


def test_a_wait_longer_than_the_routes_attempts_fails_with_the_reason(make_route, script, flaky):
    route = _route(make_route, max_attempts=2, backoff_seconds=1)
    flaky[:] = ["missing", "missing", "missing"]
    _route_run, task = _read(route)
    for _ in range(2):
        Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now())
        publish.publish_task(task.pk, route)
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED and "gave up after 2 attempts" in task.log[-1]["message"]
    assert script.jobs == []


def test_a_refused_lookup_fails_the_task_when_read(make_route, script, flaky):
    flaky[:] = ["refused"]
    _route_run, task = _read(_route(make_route))
    assert task.status == Task.Status.FAILED and not task.retransform and "bad filter" in task.error
