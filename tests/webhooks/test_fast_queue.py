"""A webhook's drain is not queued behind a backlog (issue 13's "in Exact within seconds").

Before, every message went to Celery's one queue: a delivery's drain waited for every publish batch or read
page queued before it (tasks 0.5-35 s after delivery in a mixed bench, minutes with thousands of batches).
The drain, an Exact change fetch and the publish batches of webhook-fed tasks and of a user's Retry click go to
the interactive queue, which every worker consumes beside the default one, taking turns between them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from connections.models import Task
from tests.fixtures import backlog

from .conftest import post

BACKLOG = 10
SECONDS_EACH = 1.5


def _count(marker: Path, word: str) -> int:
    return marker.read_text().split().count(word) if marker.exists() else 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_deliverys_tasks_appear_while_a_backlog_of_slow_messages_waits(fed_route, celery_worker_process):
    hook, route = fed_route
    marker = Path(settings.VAR_DIR) / f"test-backlog-{time.time_ns()}.txt"
    celery_worker_process(concurrency=1, include=(backlog.__name__,))
    for _ in range(BACKLOG):  # e.g. a run's publish batches: the default queue
        backlog.slow_backlog_message.delay(SECONDS_EACH, str(marker))
    deadline = time.monotonic() + 30
    while not _count(marker, "started") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(marker, "started"), "the worker never took the backlog"

    assert post(Client(), hook, {"orders": [{"id": "fast-1"}]}).status_code == 202
    deadline = time.monotonic() + BACKLOG * SECONDS_EACH * 3
    while not Task.objects.filter(run__route_run__route=route).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    done = _count(marker, "done")
    marker.unlink(missing_ok=True)
    assert Task.objects.filter(run__route_run__route=route, identifier="fast-1").exists(), "no task at all"
    # One slot: the message it was running, then at most one more backlog message while the two queues take turns.
    assert done <= 3, f"the task appeared only after {done} of {BACKLOG} backlog messages"


def test_each_queue_has_its_own_routing_key_and_the_waited_for_tasks_go_to_the_interactive_one():
    """Two queues bound to the default exchange with one routing key would each get every message."""
    from config.celery import app

    queues = app.amqp.queues
    assert list(queues) == [settings.INTERACTIVE_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE]
    assert len({queue.routing_key for queue in queues.values()}) == len(queues)
    for name in ("webhooks.tasks.drain_webhook", "exact_online.tasks.fetch_exact_changes"):
        assert app.amqp.router.route({}, name)["queue"].name == settings.INTERACTIVE_QUEUE
    for name in ("connections.tasks.publish_route_batch", "connections.tasks.read_route", "dashboard.tasks.heartbeat"):
        assert app.amqp.router.route({}, name)["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.mark.django_db(transaction=True)
def test_a_webhooks_tasks_and_a_retry_click_are_published_from_the_interactive_queue(
        fed_route, monkeypatch, django_capture_on_commit_callbacks):
    from connections import tasks
    from connections.flow.routing import requeue_tasks
    from webhooks import processing
    from webhooks import tasks as webhook_tasks

    sent: list[str | None] = []
    monkeypatch.setattr(tasks.publish_route_batch, "apply_async", lambda args, **options: sent.append(
        options.get("queue")))
    monkeypatch.setattr(webhook_tasks.drain_webhook, "delay", lambda *args: None)
    hook, route = fed_route
    assert post(Client(), hook, {"orders": [{"id": "a"}, {"id": "b"}]}).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        processing.drain(hook.pk)
    assert sent and set(sent) == {settings.INTERACTIVE_QUEUE}

    sent.clear()
    made = list(Task.objects.filter(run__route_run__route=route))
    Task.objects.filter(pk__in=[t.pk for t in made]).update(status=Task.Status.FAILED, queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        requeue_tasks(made[:1], message="clicked", interactive=True)
        requeue_tasks(made[1:], message="a bulk job's chunk")
    assert sent == [settings.INTERACTIVE_QUEUE, None]  # None: the task's route, the default queue
