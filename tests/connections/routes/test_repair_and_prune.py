"""Housekeeping: tasks stuck in Processing come back (and look before writing); old tasks are pruned."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from connections.flow import publish, routing
from connections.models import RouteRun, Task


def test_a_task_stuck_in_processing_is_retried_as_maybe_published(make_route, make_run, script,
                                                                     django_capture_on_commit_callbacks):
    route = make_route()
    route_run = make_run(route, 2)
    stuck, waiting = Task.objects.filter(run=route_run.run).order_by("pk")
    # A worker claimed the first task and died; the second was in its batch, still New.
    Task.objects.filter(pk=stuck.pk).update(status=Task.Status.PROCESSING, attempts=1,
                                            processing_since=timezone.now() - timedelta(minutes=30))
    RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks() as callbacks:
        result = routing.repair(older_than=timedelta(minutes=15))
    assert result == {"repaired": 1, "requeued": 2}
    assert len(callbacks) == 1  # one batch with both tasks
    stuck.refresh_from_db()
    assert stuck.status == Task.Status.RETRY
    assert "Stuck in Processing" in stuck.log[-1]["message"]
    publish.publish_batch(route_run, [stuck.pk, waiting.pk])
    assert [job.maybe_published for job in script.jobs] == [True, False]
    assert set(Task.objects.filter(run=route_run.run).values_list("status", flat=True)) == {"finished"}


def test_a_task_processing_recently_is_left_alone(make_route, make_run):
    route_run = make_run(make_route(), 1)
    Task.objects.filter(run=route_run.run).update(status=Task.Status.PROCESSING, processing_since=timezone.now())
    assert routing.repair(older_than=timedelta(minutes=15))["repaired"] == 0
    assert Task.objects.get(run=route_run.run).status == Task.Status.PROCESSING


def test_prune_deletes_only_closed_tasks_older_than_the_retention(make_route, make_run):
    route_run = make_run(make_route(), 3)
    old, recent, open_ = Task.objects.filter(run=route_run.run).order_by("pk")
    long_ago = timezone.now() - timedelta(days=40)
    Task.objects.filter(pk=old.pk).update(status=Task.Status.FINISHED, updated_at=long_ago)
    Task.objects.filter(pk=recent.pk).update(status=Task.Status.FAILED)
    Task.objects.filter(pk=open_.pk).update(status=Task.Status.NEW, updated_at=long_ago)
    assert routing.prune_old_tasks(days=30) == 1
    assert set(Task.objects.values_list("pk", flat=True)) == {recent.pk, open_.pk}


def test_a_task_taken_back_by_repair_is_not_published_by_the_slow_worker(make_route, make_run, script):
    route_run = make_run(make_route(), 2)
    first, second = Task.objects.claim(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    # The worker is slow; the repair job decides the second task is stuck and takes it back.
    Task.objects.filter(pk=second.pk).update(status=Task.Status.RETRY, processing_since=None)
    assert publish.publish_claimed(first, route_run.route) == "finished"
    assert publish.publish_claimed(second, route_run.route) == ""
    assert [job.source_id for job in script.jobs] == ["src-0"]


def test_a_read_whose_message_was_lost_is_queued_again(make_route, django_capture_on_commit_callbacks):
    route = make_route()
    route_run = routing.start_route_run(route, enqueue=False)  # queued, but no worker ever got the message
    RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks() as callbacks:
        assert routing.repair(older_than=timedelta(minutes=15))["requeued"] == 1
    assert len(callbacks) == 1
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.READING
