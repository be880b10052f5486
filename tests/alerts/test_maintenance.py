"""Maintenance windows: scheduled runs do not start, queued tasks wait (saying why) and no alert fires; daily
and weekly windows repeat at the same local time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from alerts.engine import evaluate
from alerts.models import Alert, MaintenanceWindow, Rule
from clients.models import HttpClient
from connections.flow.publish import publish_batch
from connections.models import RouteRun, Run, Task
from connections.tasks import run_scheduled_route


def _window(**fields) -> MaintenanceWindow:
    now = timezone.now()
    fields.setdefault("starts_at", now - timedelta(minutes=5))
    fields.setdefault("ends_at", now + timedelta(hours=1))
    return MaintenanceWindow.objects.create(reason="Exact upgrade", **fields)


@pytest.mark.django_db
def test_a_window_keeps_a_scheduled_run_from_starting_and_says_why(make_route):
    route = make_route()
    _window(route=route)
    assert run_scheduled_route(route.pk)["started"] is False
    route.refresh_from_db()
    assert not RouteRun.objects.filter(route=route).exists()
    assert route.last_skip_reason.startswith("In maintenance window until")
    assert "Exact upgrade" in route.last_skip_reason


@pytest.mark.django_db
def test_a_window_on_the_http_client_covers_every_route_using_it(make_route):
    route = make_route()
    _window(http_client=route.outgoing.http_client)
    assert run_scheduled_route(route.pk)["started"] is False


@pytest.mark.django_db
def test_queued_tasks_wait_until_the_window_ends_without_losing_an_attempt(make_route):
    route = make_route()
    window = _window(route=route)
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    tasks = Task.objects.bulk_create([Task(run=run, data={"i": i}) for i in range(3)])
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    assert publish_batch(route_run, [t.pk for t in tasks]) == {Task.Status.RETRY: 3}
    for task in Task.objects.filter(run=run):
        assert task.status == Task.Status.RETRY and task.attempts == 0
        assert task.next_attempt_at == window.ends_at
        assert "In maintenance window until" in task.log[-1]["message"]


@pytest.mark.django_db
def test_no_alert_fires_for_what_is_in_a_window_and_an_open_one_is_left_alone(make_rule, recorder):
    rule = make_rule(Rule.Kind.CLIENT_RECONNECT)
    client = HttpClient.objects.create(name="Exact", kind="exact_online", config={})
    client.mark_needs_reconnect("refused")
    window = _window(http_client=client)
    assert evaluate(sender=recorder)["suppressed"] == 1
    assert recorder.events == [] and not Alert.objects.exists()
    window.delete()
    evaluate(sender=recorder)
    assert recorder.events == ["fired"]
    _window(http_client=client)
    HttpClient.objects.filter(pk=client.pk).update(status=HttpClient.Status.GRANTED)
    evaluate(sender=recorder)
    assert Alert.objects.get(rule=rule).is_open and recorder.events == ["fired"]  # neither resolved nor repeated


@pytest.mark.django_db
def test_daily_and_weekly_windows_repeat_at_the_same_local_time(make_route, settings):
    tz = ZoneInfo(settings.TIME_ZONE)
    route = make_route()
    start = datetime(2026, 3, 2, 22, 0, tzinfo=tz)  # a Monday, 22:00–02:00 local
    daily = MaintenanceWindow(route=route, starts_at=start, ends_at=start + timedelta(hours=4),
                              repeat=MaintenanceWindow.Repeat.DAILY)
    at = datetime(2026, 4, 15, 1, 30, tzinfo=tz)  # weeks later, after the change to summer time
    assert daily.active_until(at) == datetime(2026, 4, 15, 2, 0, tzinfo=tz)
    assert daily.active_until(datetime(2026, 4, 15, 12, 0, tzinfo=tz)) is None
    assert daily.active_until(start - timedelta(minutes=1)) is None
    weekly = MaintenanceWindow(route=route, starts_at=start, ends_at=start + timedelta(hours=4),
                               repeat=MaintenanceWindow.Repeat.WEEKLY)
    assert weekly.active_until(datetime(2026, 3, 10, 0, 30, tzinfo=tz)) == datetime(2026, 3, 10, 2, 0, tzinfo=tz)
    assert weekly.active_until(datetime(2026, 3, 11, 0, 30, tzinfo=tz)) is None


@pytest.mark.django_db
def test_the_route_task_and_client_pages_say_until_when(make_route, editor_client):
    route = make_route()
    client = route.outgoing.http_client
    page = editor_client.get(f"/connections/routes/{route.pk}/").content.decode()
    assert "maintenance-note" not in page and f"/alerts/maintenance/create/?route={route.pk}" in page
    _window(http_client=client)
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    task = Task.objects.create(run=run, data={}, status=Task.Status.RETRY)
    for url in (f"/connections/routes/{route.pk}/", f"/connections/tasks/{task.pk}/", f"/clients/{client.pk}/"):
        page = editor_client.get(url).content.decode()
        assert 'data-testid="maintenance-note">In maintenance window until' in page, url
        assert "(Exact upgrade)" in page


@pytest.mark.django_db
def test_an_editor_plans_a_window_from_the_form(make_route, editor_client):
    route = make_route()
    response = editor_client.post("/alerts/maintenance/create/", {
        "route": route.pk, "starts_at": "2026-06-01T22:00", "ends_at": "2026-06-02T02:00", "repeat": "daily",
        "reason": "nightly backup"})
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert window.route == route and window.repeat == "daily" and window.created_by is not None
    bad = editor_client.post("/alerts/maintenance/create/", {"starts_at": "2026-06-01T22:00",
                                                             "ends_at": "2026-06-01T21:00", "repeat": "none"})
    assert bad.status_code == 400 and "Choose a route or an HTTP client." in bad.content.decode()


@pytest.mark.django_db
def test_the_dashboard_puts_what_needs_attention_first(make_route, admin_client):
    from datetime import timedelta as td

    from dashboard.models import WorkerHeartbeat

    route = make_route()
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, data={}, status=Task.Status.FAILED) for _ in range(3)])
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.FAILED, error="All 3 tasks failed.",
                            finished_at=timezone.now())
    client = route.outgoing.http_client
    client.mark_needs_reconnect("refused")
    WorkerHeartbeat.objects.create(name="w1", seen_at=timezone.now() - td(minutes=10))
    page = admin_client.get("/").content.decode()
    attention = page[page.index('data-testid="attention"'):]
    assert attention.index(f"{route.name} · run 1 failed") < attention.index("HTTP clients")  # first panel
    assert f"/connections/runs/{run.pk}/" in attention
    assert "3 failed tasks read in the last 24 hours" in attention
    assert f"{client.name} needs reconnecting" in attention
    assert 'data-testid="no-worker"' in attention


@pytest.mark.django_db
def test_the_dashboard_names_runs_with_failed_tasks_in_a_bounded_number_of_queries(make_route, admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def finished_run(route, statuses: list[str]) -> RouteRun:
        run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
        Task.objects.bulk_create([Task(run=run, data={}, status=s) for s in statuses])
        return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED,
                                       finished_at=timezone.now())

    first, second = make_route(), make_route()
    finished_run(first, [Task.Status.FINISHED] * 3)  # run 1 of the first route: nothing failed, not named
    finished_run(first, [Task.Status.FAILED, Task.Status.FAILED, Task.Status.FINISHED])
    finished_run(second, [Task.Status.FAILED, Task.Status.SKIPPED])
    admin_client.get("/")  # caches warmed
    with CaptureQueriesContext(connection) as few:
        page = admin_client.get("/").content.decode()
    attention = page[page.index('data-testid="attention"'):]
    assert f"{first.name} · run 2: 2 of 3 tasks failed" in attention
    assert f"{second.name} · run 1: 1 of 2 tasks failed" in attention
    assert f"{first.name} · run 1:" not in attention
    for _ in range(4):  # more routes with failed runs: no more queries
        finished_run(make_route(), [Task.Status.FAILED])
    with CaptureQueriesContext(connection) as more:
        admin_client.get("/")
    assert len(more) == len(few), "\n".join(q["sql"][:150] for q in more.captured_queries)
