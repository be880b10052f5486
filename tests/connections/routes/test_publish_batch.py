"""Publishing a batch: atomic claims, statuses, retries with backoff, permanent failures, the id map."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.flow import publish
from connections.models import RouteRun, SourceIdMap, Task


def test_a_batch_finishes_every_task_and_closes_the_run(make_route, make_run, script):
    route = make_route()
    route_run = make_run(route, 3)
    ids = list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    outcome = publish.publish_batch(route_run, ids)
    assert outcome == {"finished": 3}
    assert set(Task.objects.filter(run=route_run.run).values_list("status", flat=True)) == {"finished"}
    task = Task.objects.get(identifier="src-0")
    assert task.external_key == "key-src-0"
    assert task.attempts == 1
    assert SourceIdMap.lookup(route.outgoing_id, "src-1") == "key-src-1"
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.SUCCEEDED
    assert route_run.api_calls == 3


def test_a_task_is_published_once_even_when_queued_twice(make_route, make_run, script):
    route_run = make_run(make_route(), 1)
    task_id = Task.objects.get(run=route_run.run).pk
    assert publish.publish_task(task_id, route_run.route) == "finished"
    assert publish.publish_task(task_id, route_run.route) == ""  # no longer claimable
    assert len(script.jobs) == 1


def test_permanent_errors_fail_the_task_with_the_message(make_route, make_run, script):
    route_run = make_run(make_route(), 2)
    script.outcomes["src-0"] = ["permanent"]
    publish.publish_batch(route_run, list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True)))
    failed = Task.objects.get(identifier="src-0")
    assert failed.status == Task.Status.FAILED
    assert failed.error == "Invalid: src-0"
    assert failed.attempts == 1
    assert Task.objects.get(identifier="src-1").status == Task.Status.FINISHED
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.SUCCEEDED  # a failed task is closed, not open


def test_transient_errors_retry_with_growing_backoff_then_fail(make_route, make_run, script):
    route = make_route(max_attempts=3, backoff_seconds=10)
    route_run = make_run(route, 1)
    task = Task.objects.get(run=route_run.run)
    script.outcomes["src-0"] = ["transient", "transient", "transient"]
    waits = []
    for _ in range(3):
        before = timezone.now()
        assert publish.publish_task(task.pk, route) in ("retry", "failed")
        task.refresh_from_db()
        if task.status == Task.Status.RETRY:
            waits.append((task.next_attempt_at - before).total_seconds())
            assert publish.publish_task(task.pk, route) == ""  # not due yet: not claimable
            Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert task.status == Task.Status.FAILED
    assert task.attempts == 3
    assert len(waits) == 2 and 10 <= waits[0] <= 13 and 20 <= waits[1] <= 25
    assert "gave up after 3 attempts" in task.log[-1]["message"]


def test_the_second_attempt_is_marked_as_maybe_published(make_route, make_run, script):
    route = make_route()
    route_run = make_run(route, 1)
    task = Task.objects.get(run=route_run.run)
    script.outcomes["src-0"] = ["transient"]
    publish.publish_task(task.pk, route)
    Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now())
    publish.publish_task(task.pk, route)
    assert [job.maybe_published for job in script.jobs] == [False, True]
    assert script.jobs[0].reference == script.jobs[1].reference  # the same idempotency reference


def test_task_data_keys_are_merged_over_the_static_parts(make_route, make_run, script):
    route = make_route()
    route.outgoing.path = {"division": 1}
    route.outgoing.payload = {"Status": "C", "Name": "default"}
    route.outgoing.save()
    route_run = make_run(route, 1)
    Task.objects.filter(run=route_run.run).update(transformed={"path": {"division": 2}, "payload": {"Name": "X"}})
    publish.publish_batch(route_run, list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True)))
    job = script.jobs[0]
    assert job.path == {"division": 2}
    assert job.payload == {"Status": "C", "Name": "X"}


def test_an_unexpected_error_fails_the_task_instead_of_looping(make_route, make_run, script):
    route_run = make_run(make_route(), 1)
    task = Task.objects.get(run=route_run.run)

    class Broken:
        def publish(self, job):
            raise KeyError("ID")

    assert publish.publish_task(task.pk, route_run.route, publisher_for=lambda kind: Broken()) == "failed"
    task.refresh_from_db()
    assert "Unexpected error while publishing: KeyError" in task.error


def test_a_run_whose_every_task_failed_is_failed_not_finished(make_route, make_run, script):
    route_run = make_run(make_route(), 3)
    for i in range(3):
        script.outcomes[f"src-{i}"] = ["permanent"]
    publish.publish_batch(route_run, list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True)))
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.FAILED
    assert route_run.error == "All 3 tasks failed."
    partial = make_run(make_route(), 2)
    script.outcomes["src-0"] = ["permanent"]
    publish.publish_batch(partial, list(Task.objects.filter(run=partial.run).values_list("pk", flat=True)))
    partial.refresh_from_db()
    assert partial.status == RouteRun.Status.SUCCEEDED  # some arrived: finished, its failed task is counted apart


def test_a_database_gone_mid_task_leaves_it_to_the_repair_job_not_failed(make_route, make_run, script):
    """PostgreSQL restarting under a worker: the task is not failed (its outcome cannot be recorded now); the
    Celery task retries the batch and the repair job takes the task back, its next attempt looking first."""
    from django.db import InterfaceError, OperationalError

    from connections.flow import routing
    from connections.tasks import TRANSIENT

    route_run = make_run(make_route(), 2)
    ids = list(Task.objects.filter(run=route_run.run).order_by("pk").values_list("pk", flat=True))
    script.outcomes["src-0"] = ["database-gone"]
    with pytest.raises(OperationalError):
        publish.publish_batch(route_run, ids)
    assert OperationalError in TRANSIENT and InterfaceError in TRANSIENT  # publish_route_batch retries the batch
    stuck = Task.objects.get(pk=ids[0])
    assert stuck.status == Task.Status.PROCESSING and not stuck.error
    Task.objects.filter(pk__in=ids).update(processing_since=timezone.now() - timedelta(minutes=20))
    assert routing.repair(older_than=timedelta(minutes=15))["repaired"] == 2  # the batch's unreached task too
    assert publish.publish_batch(route_run, ids) == {"finished": 2}
    assert script.jobs[-2].maybe_published is True  # the interrupted one looks first
