"""Sending work to the workers: always after the current transaction commits (a worker never sees a row
that is not committed yet), and tasks are marked as queued so no sweep sends them twice."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Task

__all__ = ["queue_publishing", "send_after_commit", "send_when_due"]


def send_after_commit(task_name: str, *args: Any, countdown: float | None = None, interactive: bool = False) -> None:
    """Send the Celery task ``connections.tasks.<task_name>`` once the current transaction commits;
    ``interactive`` sends it to the queue of work someone waits for (``settings.INTERACTIVE_QUEUE``)."""
    from .. import tasks

    task = getattr(tasks, task_name)
    options: dict[str, Any] = {}
    if countdown:
        options["countdown"] = countdown
    if interactive:
        options["queue"] = settings.INTERACTIVE_QUEUE
    transaction.on_commit(partial(task.apply_async, args=args, **options))


def queue_publishing(route_run_id: int, task_ids: list[int], *, batch_size: int,
                     countdown: float | None = None, marked: bool = False, interactive: bool = False) -> int:
    """Send ``task_ids`` to the workers in batches; marks them queued (``queued_at``) unless they were saved
    so (``marked``); ``interactive`` for a webhook's tasks or a user's retry; returns how many."""
    size = max(1, batch_size)
    now = timezone.now()
    for start in range(0, len(task_ids), size):
        batch = task_ids[start:start + size]
        if not marked:
            Task.objects.filter(pk__in=batch).update(queued_at=now)
        send_after_commit("publish_route_batch", route_run_id, batch, countdown=countdown, interactive=interactive)
    return len(task_ids)


def send_when_due(task_name: str, *args: Any, until: datetime) -> bool:
    """Send the task for ``until`` when that is within ``TASK_MAX_COUNTDOWN`` (a broker countdown); a longer
    wait is left to the repair job, which sends it once due. True when it was sent."""
    delay = (until - timezone.now()).total_seconds()
    if delay > settings.TASK_MAX_COUNTDOWN:
        return False
    send_after_commit(task_name, *args, countdown=max(0.0, delay) + 0.05)
    return True
