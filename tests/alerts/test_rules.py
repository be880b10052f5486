"""Every rule fires once per incident, repeats at most every ``repeat_minutes`` while it lasts, and resolves
when it clears (plain function calls of the engine; the channel is a recorder)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts.engine import evaluate
from alerts.models import Alert, Notification, Rule
from clients.models import HttpClient, OAuthGrant
from connections.models import Route, RouteRun, Run, Task
from dashboard.models import WorkerHeartbeat
from exact_online.models import ErrorBudget, QuotaState
from webhooks.models import Delivery, Webhook


def _finished_run(route: Route, *, status: str = RouteRun.Status.SUCCEEDED, failed: int = 0, ok: int = 0,
                  error: str = "") -> RouteRun:
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, status=Task.Status.FAILED, data={}) for _ in range(failed)]
                             + [Task(run=run, status=Task.Status.FINISHED, data={}) for _ in range(ok)])
    return RouteRun.objects.create(route=route, run=run, status=status, error=error, finished_at=timezone.now())


def _granted_client(name: str = "Exact") -> HttpClient:
    return HttpClient.objects.create(name=name, kind="exact_online", config={"base_url": "http://x"},
                                     status=HttpClient.Status.GRANTED)


# Each scenario: the rule's kind and fields, a function that makes the trouble (returns a state), and one that
# clears it.
def _run_failed(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> Route:
        route = make_route()
        _finished_run(route, status=RouteRun.Status.FAILED, error="Exact Online answered HTTP 401")
        return route
    return start, lambda route: _finished_run(route, ok=2) and None


def _tasks_failed(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> Route:
        route = make_route()
        _finished_run(route, failed=3)  # 3 of 3 failed, yet "Finished"
        return route
    return start, lambda route: _finished_run(route, ok=3) and None


def _no_success(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> Route:
        route = make_route(schedule_kind=Route.ScheduleKind.INTERVAL, interval_seconds=600)
        Route.objects.filter(pk=route.pk).update(created_at=timezone.now() - timedelta(hours=30))
        return route
    return start, lambda route: _finished_run(route, ok=1) and None


def _client_reconnect(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> HttpClient:
        client = _granted_client()
        client.mark_needs_reconnect("Exact Online refused the refresh token.")
        return client
    return start, lambda c: HttpClient.objects.filter(pk=c.pk).update(status=HttpClient.Status.GRANTED) and None


def _refresh_idle(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> OAuthGrant:
        client = _granted_client()
        return OAuthGrant.objects.create(client=client, refresh_token="r" * 40,
                                         refresh_used_at=timezone.now() - timedelta(days=26))
    return start, lambda grant: OAuthGrant.objects.filter(pk=grant.pk).update(refresh_used_at=timezone.now()) and None


def _quota(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> QuotaState:
        return QuotaState.objects.create(client=_granted_client(), division=101001, daily_limit=5000,
                                         daily_remaining=600, daily_reset=timezone.now() + timedelta(hours=5))
    return start, lambda q: QuotaState.objects.filter(pk=q.pk).update(daily_remaining=4000) and None


def _circuit(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> ErrorBudget:
        return ErrorBudget.objects.create(client=_granted_client(), division=101001, endpoint="crm/Accounts",
                                          errors=3, consecutive=3, last_status=400,
                                          open_until=timezone.now() + timedelta(minutes=40))
    return start, lambda b: ErrorBudget.objects.filter(pk=b.pk).update(
        open_until=timezone.now() - timedelta(seconds=1), errors=0, window_start=None) and None


def _stalled(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> RouteRun:
        route = make_route()
        run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
        return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.READING,
                                       heartbeat_at=timezone.now() - timedelta(minutes=30))
    return start, lambda rr: RouteRun.objects.filter(pk=rr.pk).update(heartbeat_at=timezone.now()) and None


def _heartbeat(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> WorkerHeartbeat:
        return WorkerHeartbeat.objects.create(name="worker-2", seen_at=timezone.now() - timedelta(minutes=10))
    return start, lambda beat: WorkerHeartbeat.objects.filter(pk=beat.pk).update(seen_at=timezone.now()) and None


def _webhook(make_route: Callable[..., Route]) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def start() -> Delivery:
        hook = Webhook.objects.create(name="shop orders")
        return Delivery.objects.create(webhook=hook, status=Delivery.Status.FAILED, error="bad JSON")
    return start, lambda d: Delivery.objects.filter(pk=d.pk).update(status=Delivery.Status.PROCESSED) and None


SCENARIOS = {
    "run failed": (Rule.Kind.RUN_FAILED, {}, _run_failed),
    "tasks failed": (Rule.Kind.TASKS_FAILED, {"threshold": 2}, _tasks_failed),
    "no success": (Rule.Kind.NO_SUCCESS, {"threshold": 24}, _no_success),
    "client needs reconnect": (Rule.Kind.CLIENT_RECONNECT, {}, _client_reconnect),
    "refresh token idle": (Rule.Kind.CLIENT_RECONNECT, {}, _refresh_idle),
    "quota": (Rule.Kind.QUOTA, {"percent": 80}, _quota),
    "circuit open": (Rule.Kind.CIRCUIT_OPEN, {}, _circuit),
    "run stalled": (Rule.Kind.RUN_STALLED, {"threshold": 15}, _stalled),
    "no heartbeat": (Rule.Kind.NO_HEARTBEAT, {"threshold": 3}, _heartbeat),
    "webhook failing": (Rule.Kind.WEBHOOK_FAILING, {"threshold": 1}, _webhook),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_rule_fires_once_repeats_per_interval_and_resolves(name, make_route, make_rule, recorder):
    kind, fields, scenario = SCENARIOS[name]
    rule = make_rule(kind, repeat_minutes=60, **fields)
    start, clear = scenario(make_route)

    assert evaluate(sender=recorder)["fired"] == 0  # nothing wrong yet: nothing sent
    state = start()
    assert evaluate(sender=recorder)["fired"] == 1
    assert recorder.events == ["fired"]
    alert = Alert.objects.get(rule=rule)
    assert alert.is_open and alert.subject

    evaluate(sender=recorder)  # still there, within the repeat interval: quiet
    assert recorder.events == ["fired"]
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(minutes=61))
    assert evaluate(sender=recorder)["repeated"] == 1
    assert recorder.events == ["fired", "repeat"]
    evaluate(sender=recorder)
    assert recorder.events == ["fired", "repeat"]

    clear(state)
    assert evaluate(sender=recorder)["resolved"] == 1
    assert recorder.events == ["fired", "repeat", "resolved"]
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED and alert.resolved_at is not None
    evaluate(sender=recorder)
    assert recorder.events == ["fired", "repeat", "resolved"]  # resolved once
    assert Notification.objects.filter(alert=alert, ok=True).count() == 3


@pytest.mark.django_db
def test_a_rule_without_repeat_tells_once_and_a_new_incident_fires_again(make_route, make_rule, recorder):
    make_rule(Rule.Kind.RUN_FAILED, repeat_minutes=0, notify_resolved=False)
    route = make_route()
    _finished_run(route, status=RouteRun.Status.FAILED, error="boom")
    evaluate(sender=recorder)
    Alert.objects.update(last_notified_at=timezone.now() - timedelta(days=1))
    evaluate(sender=recorder)
    _finished_run(route, ok=1)
    evaluate(sender=recorder)
    assert recorder.events == ["fired"]  # no repeat, no "resolved" message
    _finished_run(route, status=RouteRun.Status.FAILED, error="boom again")
    evaluate(sender=recorder)
    assert recorder.events == ["fired", "fired"]
    assert Alert.objects.count() == 2


@pytest.mark.django_db
def test_tasks_failed_by_percentage_and_a_route_rule_watches_only_its_route(make_route, make_rule, recorder):
    watched, other = make_route(), make_route()
    make_rule(Rule.Kind.TASKS_FAILED, route=watched, threshold=100, percent=20)
    _finished_run(watched, failed=1, ok=9)  # 10%: below
    _finished_run(other, failed=5)  # another route: not this rule's
    assert evaluate(sender=recorder)["fired"] == 0
    _finished_run(watched, failed=3, ok=7)  # 30%
    assert evaluate(sender=recorder)["fired"] == 1
    assert "3 of 10 tasks failed" in recorder.sent[0][1].subject


@pytest.mark.django_db
def test_a_stale_quota_reading_from_before_the_daily_reset_does_not_alert(make_rule, recorder):
    make_rule(Rule.Kind.QUOTA, percent=80)
    QuotaState.objects.create(client=_granted_client(), division=7, daily_limit=5000, daily_remaining=100,
                              daily_reset=timezone.now() - timedelta(minutes=5))
    assert evaluate(sender=recorder)["fired"] == 0


@pytest.mark.django_db
def test_a_publishing_run_whose_tasks_wait_for_their_retry_is_resting_not_stalled(make_route, make_rule, recorder):
    make_rule(Rule.Kind.RUN_STALLED, threshold=15)
    route = make_route()
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    Task.objects.create(run=run, status=Task.Status.RETRY, data={},
                        next_attempt_at=timezone.now() + timedelta(minutes=20))
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING,
                            heartbeat_at=timezone.now() - timedelta(minutes=30))
    assert evaluate(sender=recorder)["fired"] == 0


@pytest.mark.django_db
def test_a_rule_that_cannot_be_evaluated_does_not_stop_the_others(make_route, make_rule, recorder, monkeypatch):
    from alerts import rules

    broken = make_rule(Rule.Kind.NO_HEARTBEAT)
    make_rule(Rule.Kind.RUN_FAILED)
    _finished_run(make_route(), status=RouteRun.Status.FAILED, error="x")

    def explode(rule, now):
        raise RuntimeError("bug")

    monkeypatch.setitem(rules.EVALUATORS, broken.kind, explode)
    result = evaluate(sender=recorder)
    assert result["errors"] == 1 and result["fired"] == 1
