"""A lookup that cannot answer yet (its system is down, or the record is not made yet) makes the task wait and
run its chain again before publishing, up to the route's attempts; a refused lookup still fails at once. A lookup
that says to wait (``WaitUntil``: its quota used up, its system down) defers the page being read, or the batch being
published, without spending an attempt and without sleeping in the worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
from connections.waits import WaitUntil

ANSWERS: list[str] = []  # what the next lookups answer: down, refused, missing, wait, found (the default)


class FlakyLookup(LookupProvider):
    kind = "flaky_lookup_test"
    label = "Flaky lookup (tests)"

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        answer = ANSWERS.pop(0) if ANSWERS else "found"
        if answer == "down":
            raise LookupFailed("the shop did not answer (HTTP 503)", transient=True)
        if answer == "wait":  # the lookup's quota is used up for ten minutes
            raise WaitUntil("Throttled by the shop (lookup)", timezone.now() + timedelta(minutes=10))
        if answer == "lost":  # this one call's answer was lost (an outage): only its entity waits
            raise WaitUntil("The shop not reachable (lookup)", timezone.now() + timedelta(seconds=30),
                            counted=False, entity_only=True)
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


def test_a_lookup_that_must_wait_makes_the_page_wait_as_a_whole(make_route, script, flaky):
    flaky[:] = ["wait"]
    with pytest.raises(WaitUntil):  # read.py: the page is read again from the checkpoint once due
        _read(_route(make_route))


def test_a_lookup_whose_answer_was_lost_holds_back_its_entity_only(make_route, script, flaky):
    """One dropped answer among a page's look-ups: the page is read on (a flaky system cannot hold a page of many
    look-ups back for ever); that entity's chain runs again before publishing, without spending an attempt."""
    route = _route(make_route, max_attempts=3)
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    page = Page(division=1, number=1, entities=[{"id": "o-1"}, {"id": "o-2"}, {"id": "o-3"}], next_url=None,
                endpoint="orders")
    flaky[:] = ["found", "lost", "found"]
    tasks, _skipped, failed = tasks_for(run, lambda e: e["id"], page, chain_transform(route))
    assert failed == 0 and [t.identifier for t in tasks] == ["o-1", "o-2", "o-3"]
    assert [t.retransform for t in tasks] == [False, True, False]
    assert tasks[1].error == "The shop not reachable (lookup)" and tasks[1].transformed is None
    assert tasks[0].transformed == {"id": "o-1", "account": "acc-1"}
    Task.objects.bulk_create(tasks)
    lost = Task.objects.get(run=run, identifier="o-2")
    assert publish.publish_task(lost.pk, route) == Task.Status.FINISHED
    lost.refresh_from_db()
    assert lost.attempts == 1 and lost.transformed == {"id": "o-2", "account": "acc-1"}


def test_a_lookup_that_must_wait_defers_the_batch_without_spending_attempts(make_route, script, flaky):
    route = _route(make_route, max_attempts=2, backoff_seconds=10)
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    flaky[:] = ["down", "down", "down"]
    page = Page(division=1, number=1, entities=[{"id": f"o-{n}"} for n in range(3)], next_url=None,
                endpoint="orders")
    Task.objects.bulk_create(tasks_for(run, lambda e: e["id"], page, chain_transform(route))[0])
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    ids = list(Task.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))
    assert all(t.retransform for t in Task.objects.filter(pk__in=ids))
    flaky[:] = ["found", "wait"]  # the first task's lookup answers, the second's must wait
    assert publish.publish_batch(route_run, ids) == {Task.Status.FINISHED: 1, "waiting": 2}
    for _ in range(3):  # more waits than the route has attempts: none of them is one
        waiting = Task.objects.filter(pk__in=ids[1:])
        assert {t.status for t in waiting} == {Task.Status.RETRY}
        assert {t.attempts for t in waiting} == {0}
        assert {t.wait_reason for t in waiting} == {"Throttled by the shop (lookup)"}
        assert all(t.next_attempt_at > timezone.now() + timedelta(minutes=9) for t in waiting)
        flaky[:] = ["wait"]
        Task.objects.filter(pk__in=ids[1:]).update(next_attempt_at=timezone.now())
        assert publish.publish_batch(route_run, ids[1:]) == {"waiting": 2}
    route_run.refresh_from_db()
    assert route_run.wait_reason == "Throttled by the shop (lookup)" and route_run.waiting_until
    assert [job.payload for job in script.jobs] == [{"id": "o-0", "account": "acc-1"}]  # the waiting ones unsent
    flaky[:] = []  # the quota is back
    Task.objects.filter(pk__in=ids[1:]).update(next_attempt_at=timezone.now())
    assert publish.publish_batch(route_run, ids[1:]) == {Task.Status.FINISHED: 2}


def test_a_webhook_delivery_whose_lookup_must_wait_makes_a_task_that_runs_its_chain_again(make_route, script, flaky):
    from webhooks.feed import feed_route

    route = _route(make_route)
    flaky[:] = ["wait"]  # a delivery is not read again: its task waits instead, and is transformed when published
    fed = feed_route(route, [("d-1", [{"id": "o-1"}])], identifier=lambda e: e["id"], source=lambda key: "hook")
    task = Task.objects.get(pk=fed.task_ids["d-1"][0])
    assert task.status == Task.Status.NEW and task.retransform and "Throttled by the shop (lookup) until" in task.error


def test_a_dry_run_whose_lookup_must_wait_says_until_when(make_route, script, flaky):
    from connections.flow.routing import dry_run

    flaky[:] = ["wait"]
    rows = dry_run(_route(make_route), entities=[{"id": "o-1"}])
    assert rows[0]["status"] == "failed" and "Throttled by the shop (lookup) until" in rows[0]["error"]
