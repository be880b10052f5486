"""Issue 10 item 15: a retry that waits longer than the broker holds a message waits in the database.

A countdown longer than Redis' visibility timeout makes Redis hand the unacknowledged message to another
worker again and again. So only short waits become broker countdowns; a long one is left in the database
and the repair job (beat) queues it once it is due, exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from connections import tasks
from connections.flow import publish, routing
from connections.models import Task


def _sent(monkeypatch) -> list[tuple[tuple, float | None]]:
    """Record what is sent to the broker (task args and countdown) instead of sending it."""
    sent: list[tuple[tuple, float | None]] = []
    monkeypatch.setattr(tasks.publish_route_batch, "apply_async",
                        lambda args, countdown=None: sent.append((tuple(args), countdown)))
    monkeypatch.setattr(tasks.publish_route_batch, "delay", lambda *args: sent.append((args, None)))
    return sent


def test_a_long_retry_is_no_countdown_and_is_queued_once_from_the_database_when_due(
        make_route, make_run, script, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.TASK_MAX_COUNTDOWN = 300
    sent = _sent(monkeypatch)
    route_run = make_run(make_route(backoff_seconds=3600), 1)
    task = Task.objects.get(run=route_run.run)
    script.outcomes["src-0"] = ["transient"]
    with django_capture_on_commit_callbacks(execute=True):
        assert publish.publish_batch(route_run, [task.pk]) == {"retry": 1}
    task.refresh_from_db()
    assert task.status == Task.Status.RETRY and (task.next_attempt_at - timezone.now()) > timedelta(minutes=59)
    assert sent == []  # no hour-long countdown handed to the broker

    with django_capture_on_commit_callbacks(execute=True):
        routing.repair()
    assert sent == []  # not due yet: still waiting in the database

    Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        routing.repair()
        routing.repair()  # the next beat does not send it a second time
    assert sent == [((route_run.pk, [task.pk]), None)]

    assert publish.publish_batch(route_run, [task.pk]) == {"finished": 1}


def test_a_short_retry_is_a_countdown_within_the_limit(make_route, make_run, script, monkeypatch, settings,
                                                         django_capture_on_commit_callbacks):
    settings.TASK_MAX_COUNTDOWN = 300
    sent = _sent(monkeypatch)
    route_run = make_run(make_route(backoff_seconds=10), 1)
    task = Task.objects.get(run=route_run.run)
    script.outcomes["src-0"] = ["transient"]
    with django_capture_on_commit_callbacks(execute=True):
        publish.publish_batch(route_run, [task.pk])
        routing.repair()  # already on its way: the sweep leaves it alone
    assert len(sent) == 1
    (args, countdown), = sent
    assert args == (route_run.pk, [task.pk]) and countdown is not None and 10 <= countdown <= 300


def test_the_countdown_limit_stays_under_the_brokers_visibility_timeout():
    from django.conf import settings

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert 0 < settings.TASK_MAX_COUNTDOWN < visibility
