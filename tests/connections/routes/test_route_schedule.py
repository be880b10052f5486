"""A route's schedule lives in django-celery-beat and follows the route's save and delete."""

from __future__ import annotations

import json

from django_celery_beat.models import PeriodicTask

from connections.models import Route
from connections.tasks import run_scheduled_route


def test_an_interval_schedule_creates_an_expiring_periodic_task(make_route):
    route = make_route(schedule_kind=Route.ScheduleKind.INTERVAL, interval_seconds=300)
    task = PeriodicTask.objects.get(pk=route.periodic_task_id)
    assert task.task == "connections.tasks.run_scheduled_route"
    assert json.loads(task.kwargs) == {"route_id": route.pk}
    assert task.interval.every == 300
    assert task.expire_seconds == 299  # a trigger not picked up before the next one is dropped


def test_a_cron_schedule_keeps_its_timezone(make_route):
    route = make_route(schedule_kind=Route.ScheduleKind.CRON, cron="*/15 6-18 * * 1-5", timezone="America/New_York")
    task = PeriodicTask.objects.get(pk=route.periodic_task_id)
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*/15", "6-18", "1-5")
    assert str(task.crontab.timezone) == "America/New_York"


def test_editing_and_clearing_the_schedule_updates_beat(make_route):
    route = make_route(schedule_kind=Route.ScheduleKind.INTERVAL, interval_seconds=60)
    route.interval_seconds = 120
    route.enabled = False
    route.save()
    task = PeriodicTask.objects.get(pk=route.periodic_task_id)
    assert task.interval.every == 120
    assert task.enabled is False
    route.schedule_kind = Route.ScheduleKind.NONE
    route.save()
    assert route.periodic_task is None
    assert not PeriodicTask.objects.filter(name=f"route:{route.pk}").exists()


def test_deleting_the_route_deletes_its_schedule(make_route):
    route = make_route(schedule_kind=Route.ScheduleKind.INTERVAL, interval_seconds=60)
    name = route.periodic_task.name
    route.delete()
    assert not PeriodicTask.objects.filter(name=name).exists()


def test_the_scheduled_task_does_not_pile_up_runs(make_route):
    route = make_route()
    first = run_scheduled_route(route.pk)
    second = run_scheduled_route(route.pk)
    assert first["started"] is True
    assert second["started"] is False
    assert route.runs.count() == 1
