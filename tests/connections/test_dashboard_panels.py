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
    assert warm_task_chart() == 13 + timezone.localtime().hour  # the closed days and today's ended hours
    with CaptureQueriesContext(connection) as captured:
        chart = task_chart_context()
    counting = [q for q in captured.captured_queries if "connections_task" in q["sql"]]
    assert len(counting) == 1 and chart["bars"][-3]["total"] == 1  # today's count only: the past came warm
    Task.objects.filter(pk=old.pk).update(status=Task.Status.FINISHED)  # retried: the kept day is stale until...
    assert [s["label"] for s in task_chart_context()["bars"][-3]["segments"]] == ["Failed"]
    warm_task.apply()  # ...the beat job (a thin wrapper) counts the closed days again
    assert [s["label"] for s in task_chart_context()["bars"][-3]["segments"]] == ["Finished"]


def _count_queries(captured) -> int:
    return len([q for q in captured.captured_queries if "connections_task" in q["sql"]])


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Asia/Kolkata"])  # midnight on a UTC hour, and at :30
def test_today_is_its_cached_ended_hours_plus_the_live_hour_and_always_exact(settings, zone):
    """At each moment the chart's today (and the day before, after midnight) equals a direct count, while a request
    counts only the current hour: an ended hour is counted once and then read from the cache."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from connections.overview import today_closed_hour_counts

    settings.TIME_ZONE = zone
    tz = ZoneInfo(zone)
    day = timezone.localdate() - timedelta(days=3)

    def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0, days: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), time(hour, minute, second, micro), tzinfo=tz)

    run = _route_run()
    events = [(at(0, 0), "finished"), (at(8, 15), "failed"), (at(9, 59, 59, 999999), "failed"),
              (at(10, 0), "finished"), (at(10, 20), "new"), (at(10, 59, 59), "skipped"), (at(11, 0), "finished"),
              (at(23, 59, 59, 999999), "finished"), (at(0, 0, days=1), "failed"), (at(0, 0, 1, days=1), "new")]
    moments = [at(9, 59, 59, 999999), at(10, 0), at(10, 30), at(11, 0), at(23, 59, 59, 999999),
               at(0, 0, days=1), at(0, 0, 1, days=1), at(1, 0, days=1)]
    added = 0

    def direct(on, now) -> dict[str, int]:
        start = datetime.combine(on, time.min, tzinfo=tz)
        rows = Task.objects.filter(Task.in_routes(), created_at__gte=start, created_at__lte=now,
                                   created_at__lt=start + timedelta(days=1))
        return dict(rows.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))

    for now in moments:
        while added < len(events) and events[added][0] <= now:  # the tasks made by this moment, none later
            Task.objects.create(run=run, status=events[added][1], created_at=events[added][0])
            added += 1
        with CaptureQueriesContext(connection) as captured:
            chart = task_chart_context(now)
        assert _count_queries(captured) <= 3  # the live hour, plus what just ended (an hour, a day) once
        bars = {bar["day"]: {s["label"].lower(): s["n"] for s in bar["segments"]} for bar in chart["bars"]}
        local_day = now.astimezone(tz).date()
        assert bars[local_day] == direct(local_day, now), now
        assert bars[local_day - timedelta(days=1)] == direct(local_day - timedelta(days=1), now), now
        with CaptureQueriesContext(connection) as captured:
            assert task_chart_context(now)["total"] == chart["total"]
        assert _count_queries(captured) == 1  # again at once: only the live hour is counted, the rest is reused

    # A task appearing in an ended hour (a clock's skew) is not seen until the beat job counts the hours again:
    # the proof that the ended hours are read from the cache, not counted.
    now = at(10, 30)
    task_chart_context(now)
    Task.objects.create(run=run, status="failed", created_at=at(9, 0))
    assert today_closed_hour_counts(now)["failed"] == 2
    assert today_closed_hour_counts(now, refresh=True)["failed"] == 3
    assert {s["label"]: s["n"] for s in task_chart_context(now)["bars"][-1]["segments"]}["Failed"] == 3
