"""Waiting is not failing: a publisher that must wait defers its batch to the moment it names, unsent and not
counted as an attempt; the worker is free at once; the pages say why and until when."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from connections.flow import publish, routing
from connections.models import RouteRun, Task
from connections.waits import until_text


def _ids(route_run: RouteRun) -> list[int]:
    return list(Task.objects.filter(run=route_run.run).order_by("pk").values_list("pk", flat=True))


def test_a_wait_defers_the_rest_of_the_batch_to_the_reset_without_counting_an_attempt(make_route, make_run, script):
    route_run = make_run(make_route(), 4)
    script.outcomes["src-1"] = ["wait"]
    before = timezone.now()
    outcome = publish.publish_batch(route_run, _ids(route_run))

    assert outcome == {"finished": 1, "waiting": 3}
    assert [job.source_id for job in script.jobs] == ["src-0", "src-1"]  # the rest was not even tried
    waiting = list(Task.objects.filter(run=route_run.run, status=Task.Status.RETRY).order_by("pk"))
    assert [t.identifier for t in waiting] == ["src-1", "src-2", "src-3"]
    for task in waiting:
        assert task.attempts == 0  # given back: a wait is no attempt
        assert task.wait_reason == "Throttled by the fake system for division 7"
        assert before + timedelta(seconds=29) < task.next_attempt_at < before + timedelta(seconds=32)
        assert task.queued_at is not None  # a broker countdown to the reset (short wait)
    assert "Waiting: Throttled by the fake system for division 7 until" in waiting[0].log[-1]["message"]
    assert "not counted as an attempt" in waiting[0].log[-1]["message"]
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.PUBLISHING and route_run.wait_reason.startswith("Throttled")

    # At the reset the tasks go through, each on its first attempt.
    Task.objects.filter(run=route_run.run).update(next_attempt_at=timezone.now())
    assert publish.publish_batch(route_run, [t.pk for t in waiting]) == {"finished": 3}
    assert set(Task.objects.filter(run=route_run.run).values_list("attempts", flat=True)) == {1}


def test_a_long_wait_stays_in_the_database_until_the_repair_job_queues_it(make_route, make_run, script):
    route_run = make_run(make_route(), 2)
    script.outcomes["src-0"] = ["wait-long"]
    assert publish.publish_batch(route_run, _ids(route_run)) == {"waiting": 2}
    assert set(Task.objects.filter(run=route_run.run).values_list("queued_at", flat=True)) == {None}
    assert routing.queue_due_retries() == 0  # not due yet
    Task.objects.filter(run=route_run.run).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert routing.queue_due_retries() == 2


def test_the_route_run_and_task_pages_say_why_and_until_when(make_route, make_run, script, viewer_client):
    route = make_route()
    route_run = make_run(route, 2)
    script.outcomes["src-0"] = ["wait"]
    publish.publish_batch(route_run, _ids(route_run))
    until = until_text(Task.objects.filter(run=route_run.run).first().next_attempt_at)
    expected = f"Throttled by the fake system for division 7 until {until}"

    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert expected in page and 'data-testid="waiting"' in page
    task = Task.objects.get(identifier="src-1")
    page = viewer_client.get(reverse("connections:task_detail", args=[task.pk])).content.decode()
    assert expected in page

    Task.objects.filter(run=route_run.run).update(next_attempt_at=timezone.now(), wait_reason="")
    RouteRun.objects.filter(pk=route_run.pk).update(waiting_until=None)
    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert "Waiting for a worker" not in page and "Throttled" not in page  # Retry tasks wait for their backoff


def test_a_queued_read_says_it_waits_for_a_worker(make_route, viewer_client):
    route = make_route()
    route_run = routing.start_route_run(route, enqueue=False)
    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert "Waiting for a worker" in page
    page = viewer_client.get(reverse("connections:run_detail", args=[route_run.run_id])).content.decode()
    assert "Waiting for a worker" in page


def test_a_maintenance_window_says_so_on_the_route_page_through_the_same_mechanism(make_route, make_run, script,
                                                                                   viewer_client):
    from alerts.models import MaintenanceWindow

    route = make_route()
    route_run = make_run(route, 2)
    ends = timezone.now() + timedelta(hours=1)
    MaintenanceWindow.objects.create(route=route, reason="Exact upgrade",
                                     starts_at=timezone.now() - timedelta(minutes=1), ends_at=ends)
    publish.publish_batch(route_run, _ids(route_run))
    expected = f"In maintenance window (Exact upgrade) until {until_text(ends)}"
    assert expected in viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    task = Task.objects.filter(run=route_run.run).first()
    assert expected in viewer_client.get(reverse("connections:task_detail", args=[task.pk])).content.decode()
