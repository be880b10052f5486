"""Items received by a webhook become tasks of the routes it feeds, as if an Incoming had read them.

One delivery makes, per route, a finished ``Run`` (trigger Webhook) holding its tasks and a ``RouteRun``
that is already publishing: the route's own machinery (claims, retries, repair, counters) takes it from
there. Called inside the processing transaction, so a worker killed half-way leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import F
from django.utils import timezone

from connections.models import Route, RouteRun, Run, Task, TriggerSource
from connections.routing import chain_transform, maybe_finish, queue_open_tasks
from connections.runner import _tasks_for
from connections.subscribers import Page

from .kinds import Processed

__all__ = ["NothingToFeed", "feed_route", "feed_routes"]


class NothingToFeed(Exception):
    """The hook feeds no enabled route: the delivery fails (kept, replayable once a route is connected)."""


class _Keys:
    """What the runner's task builder asks of a subscriber: the key of an entity."""

    def __init__(self, identifier: Callable[[dict[str, Any]], str]) -> None:
        self.identifier = identifier


def feed_route(route: Route, entities: list[dict[str, Any]], *, identifier: Callable[[dict[str, Any]], str],
               source: str, division: int | None = None) -> RouteRun:
    """Write ``entities`` as tasks of ``route`` (through its transformer chain) and queue them after commit."""
    now = timezone.now()
    run = Run.objects.create(incoming_id=route.incoming_id, trigger=TriggerSource.WEBHOOK, status=Run.Status.SUCCEEDED,
                             created_at=now, started_at=now, finished_at=now, heartbeat_at=now)
    route_run = RouteRun.objects.create(route=route, run=run, trigger=RouteRun.Trigger.WEBHOOK,
                                        status=RouteRun.Status.PUBLISHING, created_at=now, reading_finished_at=now,
                                        heartbeat_at=now)
    page = Page(division=division, number=1, entities=entities, next_url=None, endpoint=source, api_calls=0)
    tasks, skipped, failed = _tasks_for(run, _Keys(identifier), page, chain_transform(route))  # type: ignore[arg-type]
    Task.objects.bulk_create(tasks, batch_size=Task.BULK_BATCH)
    counts = {"pages": 1, "entities_read": len(entities), "tasks_created": len(tasks), "tasks_skipped": skipped,
              "tasks_failed": failed}
    Run.objects.filter(pk=run.pk).update(**{name: F(name) + n for name, n in counts.items() if n})
    queue_open_tasks(route_run, only_new=True)
    maybe_finish(route_run.pk)
    return route_run


def feed_routes(webhook: Any, entities: list[dict[str, Any]], *, identifier: Callable[[dict[str, Any]], str],
                source: str, division: int | None = None) -> Processed:
    """Feed every enabled route of ``webhook``; returns the counts for the delivery."""
    result = Processed(items=len(entities))
    for route in webhook.fed_routes():
        route_run = feed_route(route, entities, identifier=identifier, source=source, division=division)
        result.route_runs.append(route_run.pk)
        result.tasks_created += Task.objects.filter(run_id=route_run.run_id).count()
    if not result.route_runs:
        raise NothingToFeed("No enabled route is fed by this webhook: connect a route, then replay.")
    return result
