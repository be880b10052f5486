"""The dashboard shows what ran and failed, and a picture of tasks per day and status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
from connections.overview import task_chart_context


def _route_run(status: str = Run.Status.SUCCEEDED, **run_fields) -> Run:
    """A run of a route (the chart counts route tasks; an Incoming's own runs are previews)."""
    client = HttpClient.objects.create(name=f"c{Run.objects.count()}", kind="exact_online", config={})
    incoming = Incoming.objects.create(name=f"i{Run.objects.count()}", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name=f"o{Run.objects.count()}", publisher="exact_online", action="create",
                                       entity="crm/Accounts", http_client=client)
    route = Route.objects.create(name=f"r{Run.objects.count()}", incoming=incoming, outgoing=outgoing)
    run = Run.objects.create(incoming=incoming, status=status, **run_fields)
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED)
    return run


def _standalone() -> Run:
    return Run.objects.create(status=Run.Status.SUCCEEDED)


@pytest.mark.django_db
def test_chart_stacks_tasks_per_day_and_status_and_links_to_the_task_list():
    now = timezone.now()
    run = _route_run()
    Task.objects.bulk_create([Task(status=Task.Status.FINISHED, data={}, run=run) for _ in range(6)]
                             + [Task(status=Task.Status.FAILED, data={}, run=run) for _ in range(2)])
    old = Task.objects.create(status=Task.Status.FINISHED, data={}, run=run)
    Task.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    Task.objects.create(status=Task.Status.FINISHED, data={}, run=_standalone())  # a preview: not counted
    Task.objects.create(status=Task.Status.FINISHED, data={}, run=run)  # ignored below: moved out of the window
    Task.objects.filter(pk=Task.objects.latest("pk").pk).update(created_at=now - timedelta(days=40))

    chart = task_chart_context()
    today, three_days_ago = chart["bars"][-1], chart["bars"][-4]
    assert chart["total"] == 9
    assert today["total"] == 8
    assert [(s["label"], s["n"]) for s in today["segments"]] == [("Finished", 6), ("Failed", 2)]
    assert three_days_ago["total"] == 1
    tallest = max(s["height"] for s in today["segments"])
    assert tallest == pytest.approx(6 / 8 * chart["height"], abs=0.1)
    assert "status=failed" in today["segments"][1]["url"].lower()


@pytest.mark.django_db
def test_dashboard_lists_failed_runs_and_the_chart(viewer_client):
    run = _route_run(Run.Status.FAILED, error="Exact said: Ongeldige referentie", api_calls=7)
    Task.objects.create(status=Task.Status.FAILED, data={}, run=run)
    page = viewer_client.get("/").content.decode()
    assert "Runs · last 24 hours" in page
    assert f"Run #{run.pk}" in page
    assert "Ongeldige referentie" in page
    assert "<svg" in page and "1 Failed" in page


@pytest.mark.django_db
def test_empty_dashboard_panels_explain_themselves(viewer_client):
    page = viewer_client.get("/").content.decode()
    assert "No runs in the last 24 hours" in page
    assert "No tasks in the last two weeks" in page


@pytest.mark.django_db
def test_the_last_24_hours_are_counted_once_a_minute_and_only_route_tasks():
    from django.core.cache import cache

    from connections.overview import LAST_DAY_CACHE_KEY, tasks_last_24_hours

    cache.delete(LAST_DAY_CACHE_KEY)
    run = _route_run()
    Task.objects.bulk_create([Task(run=run, status=Task.Status.FAILED), Task(run=run, status=Task.Status.FINISHED),
                              Task(run=run, status=Task.Status.FAILED, created_at=timezone.now() - timedelta(days=2)),
                              Task(run=_standalone(), status=Task.Status.FAILED)])
    assert tasks_last_24_hours() == {Task.Status.FAILED: 1, Task.Status.FINISHED: 1}
    Task.objects.create(run=run, status=Task.Status.FAILED)
    assert tasks_last_24_hours()[Task.Status.FAILED] == 1  # the cached count, until it expires
    cache.delete(LAST_DAY_CACHE_KEY)
    assert tasks_last_24_hours()[Task.Status.FAILED] == 2


@pytest.mark.django_db
def test_closed_days_are_counted_by_the_beat_job_not_by_a_request():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from connections.overview import warm_task_chart
    from connections.tasks import warm_task_chart as warm_task

    run = _route_run()
    old = Task.objects.create(status=Task.Status.FAILED, data={}, run=run)
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert warm_task_chart() == 13
    with CaptureQueriesContext(connection) as captured:
        chart = task_chart_context()
    counting = [q for q in captured.captured_queries if "connections_task" in q["sql"]]
    assert len(counting) == 1 and chart["bars"][-3]["total"] == 1  # today's count only: the past came warm
    Task.objects.filter(pk=old.pk).update(status=Task.Status.FINISHED)  # retried: the kept day is stale until...
    assert [s["label"] for s in task_chart_context()["bars"][-3]["segments"]] == ["Failed"]
    warm_task.apply()  # ...the beat job (a thin wrapper) counts the closed days again
    assert [s["label"] for s in task_chart_context()["bars"][-3]["segments"]] == ["Finished"]
