"""Schedules are readable: the cron in words, its time zone, the next fires, and fires skipped while a run goes on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from connections.models import RouteRun
from connections.schedules import cron_in_words, next_cron_times, next_interval_times
from connections.tasks import run_scheduled_route


def test_cron_in_words_and_its_next_fires_in_its_time_zone():
    assert cron_in_words("*/15 * * * 1-5") == "Every 15 minutes, Monday through Friday"
    after = datetime(2026, 11, 27, 16, 50, tzinfo=UTC)  # a Friday, 17:50 in Amsterdam
    fires = next_cron_times("0 7 * * 1-5", "Europe/Amsterdam", after=after)
    assert [f.strftime("%a %d %H:%M %Z") for f in fires] == ["Mon 30 07:00 CET", "Tue 01 07:00 CET",
                                                             "Wed 02 07:00 CET"]
    assert next_cron_times("0 0 30 2 *", "UTC", after=after) == []  # never: no fire is invented


def test_an_interval_fires_again_after_its_last_fire_or_now_when_overdue():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    last = datetime(2026, 1, 1, 11, 59, 30, tzinfo=UTC)
    assert next_interval_times(300, last_fired=last, now=now, count=2) == [
        datetime(2026, 1, 1, 12, 4, 30, tzinfo=UTC), datetime(2026, 1, 1, 12, 9, 30, tzinfo=UTC)]
    assert next_interval_times(60, last_fired=datetime(2025, 1, 1, tzinfo=UTC), now=now, count=1) == [now]


@pytest.mark.django_db
def test_a_fire_while_the_previous_run_goes_on_is_shown_as_skipped(viewer_client, make_route, make_run):
    route = make_route(schedule_kind="cron", cron="*/5 * * * *", timezone="Europe/Amsterdam")
    make_run(route, status=RouteRun.Status.PUBLISHING)  # still publishing when beat fires again
    outcome = run_scheduled_route(route.pk)
    assert outcome["started"] is False
    route.refresh_from_db()
    assert route.skipped_fires == 1 and route.last_skipped_at is not None
    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert "Every 5 minutes (Europe/Amsterdam)" in page
    assert "Next (times in Europe/Amsterdam): " in page and page.count("<time ") >= 3
    assert "skipped: still running" in page and "1 fire skipped so far" in page
    assert RouteRun.objects.filter(route=route).count() == 1  # nothing was started


@pytest.mark.django_db
def test_run_numbers_count_per_route(viewer_client, make_route, make_run):
    other, route = make_route(), make_route()
    make_run(other, status=RouteRun.Status.SUCCEEDED)
    first = make_run(route, status=RouteRun.Status.SUCCEEDED)
    assert first.number == 1
    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert "<h2>Run 1 " in page


@pytest.mark.django_db
def test_a_fire_kept_back_by_a_maintenance_window_says_so_not_still_running(viewer_client, make_route):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import MaintenanceWindow

    route = make_route(schedule_kind="cron", cron="*/5 * * * *", timezone="Europe/Amsterdam")
    MaintenanceWindow.objects.create(route=route, starts_at=timezone.now() - timedelta(minutes=1),
                                     ends_at=timezone.now() + timedelta(hours=1), reason="Exact upgrade")
    assert run_scheduled_route(route.pk)["started"] is False
    page = viewer_client.get(reverse("connections:route_detail", args=[route.pk])).content.decode()
    assert "skipped: maintenance window</span>" in page and "In maintenance window until" in page
    assert "(Exact upgrade)" in page
    assert "still running" not in page and "previous run was still going" not in page
    assert "1 fire skipped so far" in page
