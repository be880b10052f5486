"""Connections → Routes pages: form with ordered transformers and schedule, Run now, live status, roles."""

from __future__ import annotations

from django.urls import reverse

from connections.models import Route, RouteRun, Transformer


def route_form(route_or_none, make_route, **overrides):
    base = make_route()
    data = {"name": "Accounts A to B", "incoming": base.incoming_id, "outgoing": base.outgoing_id, "enabled": "on",
            "max_attempts": 5, "backoff_seconds": 30, "batch_size": 50, "schedule_kind": "cron",
            "interval_seconds": "", "cron": "*/15 * * * 1-5", "timezone": "Europe/Amsterdam"}
    data.update(overrides)
    return data


def test_an_editor_creates_a_route_with_ordered_transformers_and_a_cron(editor_client, make_route):
    second = Transformer.objects.create(name="second", steps=[])
    first = Transformer.objects.create(name="first", steps=[])
    data = route_form(None, make_route, transformer_1=first.pk, transformer_2=second.pk)
    response = editor_client.post(reverse("connections:route_create"), data)
    route = Route.objects.get(name="Accounts A to B")
    assert response.status_code == 302
    assert [t.name for t in route.ordered_transformers()] == ["first", "second"]
    assert route.periodic_task.crontab.minute == "*/15"
    page = editor_client.get(route.get_absolute_url()).content.decode()
    assert "1. first" in page and "Every 15 minutes, Monday through Friday (Europe/Amsterdam)" in page
    assert "*/15 * * * 1-5" in page and "Next (times in " in page


def test_bad_schedules_are_refused(editor_client, make_route):
    response = editor_client.post(reverse("connections:route_create"), route_form(None, make_route, cron="61 * * *"))
    assert response.status_code == 400 and "five fields" in response.content.decode()
    response = editor_client.post(reverse("connections:route_create"),
                                  route_form(None, make_route, schedule_kind="interval", interval_seconds=""))
    assert response.status_code == 400 and "number of seconds" in response.content.decode()


def test_run_now_starts_once_and_reports_a_busy_route(editor_client, make_route):
    route = make_route()
    url = reverse("connections:route_run", args=[route.pk])
    first = editor_client.post(url, follow=True).content.decode()
    second = editor_client.post(url, follow=True).content.decode()
    assert "started" in first
    assert "Not started" in second and "already running" in second
    assert route.runs.count() == 1


def test_the_status_partial_polls_only_while_the_run_is_active(viewer_client, make_route, make_run, script):
    route = make_route()
    route_run = make_run(route, 4)
    url = reverse("connections:route_status", args=[route.pk])
    active = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in active and 'data-testid="count-new">4<' in active
    RouteRun.objects.filter(pk=route_run.pk).update(status=RouteRun.Status.SUCCEEDED)
    done = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done


def test_a_viewer_sees_routes_but_cannot_run_them(viewer_client, make_route):
    route = make_route()
    page = viewer_client.get(route.get_absolute_url()).content.decode()
    assert "Run now" not in page
    assert viewer_client.post(reverse("connections:route_run", args=[route.pk])).status_code == 403
    assert viewer_client.post(reverse("connections:route_dry_run", args=[route.pk])).status_code == 403
    assert viewer_client.get(reverse("connections:route_list")).status_code == 200


def test_delete_removes_the_route_and_its_schedule(editor_client, make_route):
    route = make_route(schedule_kind="interval", interval_seconds=60)
    response = editor_client.post(reverse("connections:route_delete", args=[route.pk]))
    assert response.status_code == 302
    assert not Route.objects.filter(pk=route.pk).exists()


def test_the_route_page_offers_the_tester_on_its_last_entity(viewer_client, make_route, make_run):
    route = make_route()
    shape = Transformer.objects.create(name="shape", steps=[{"type": "remove", "params": {"paths": ["i"]}}])
    route.set_transformers([shape])
    make_run(route, 2)
    page = viewer_client.get(route.get_absolute_url()).content.decode()
    assert "Try the transformers" in page and "Account 1" in page  # the last task's data is the input
    result = viewer_client.post(reverse("connections:transformer_test"),
                                {"transformer": shape.pk, "input": '{"Name": "x", "i": 1}'}).content.decode()
    assert "Name" in result


def test_the_status_shows_the_quota_left_where_the_route_writes(viewer_client, make_route, make_run):
    from exact_online.models import QuotaState

    route = make_route()
    route.outgoing.path = {"division": 101002}
    route.outgoing.save()
    make_run(route, 1)
    QuotaState.objects.create(client=route.outgoing.http_client, division=101002, daily_limit=5000,
                              daily_remaining=4321)
    page = viewer_client.get(reverse("connections:route_status", args=[route.pk])).content.decode()
    assert 'data-testid="quota-left">4321' in page and "division 101002" in page
