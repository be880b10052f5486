"""Starting a route run: a run that is still active is never started twice."""

from __future__ import annotations

import pytest

from connections.flow import routing
from connections.models import RouteRun, Run, TriggerSource


def test_start_creates_the_incoming_run_and_the_route_run(make_route, django_capture_on_commit_callbacks):
    route = make_route()
    with django_capture_on_commit_callbacks() as callbacks:
        route_run = routing.start_route_run(route, enqueue=True)
    assert route_run.status == RouteRun.Status.READING
    assert route_run.run.incoming == route.incoming
    assert route_run.run.status == Run.Status.QUEUED
    assert len(callbacks) == 1  # the read is queued after commit, never before


def test_a_second_start_while_running_is_refused(make_route):
    route = make_route()
    first = routing.start_route_run(route, enqueue=False)
    with pytest.raises(routing.RouteBusy) as busy:
        routing.start_route_run(route, enqueue=False)
    assert busy.value.run == first
    assert RouteRun.objects.filter(route=route).count() == 1


def test_a_finished_route_can_run_again(make_route):
    route = make_route()
    first = routing.start_route_run(route, enqueue=False)
    RouteRun.objects.filter(pk=first.pk).update(status=RouteRun.Status.SUCCEEDED)
    first.run.finish(Run.Status.SUCCEEDED)
    second = routing.start_route_run(route, enqueue=False)
    assert second.pk != first.pk


def test_a_disabled_route_is_not_started_by_its_schedule(make_route):
    route = make_route(enabled=False)
    with pytest.raises(routing.RouteBusy):
        routing.start_route_run(route, trigger=TriggerSource.SCHEDULED, enqueue=False)
