"""Items received by a webhook become tasks of the routes it feeds, as if an Incoming had read them.

One batch of deliveries makes, per route, a finished ``Run`` (trigger Webhook) holding the tasks and a
``RouteRun`` that is already publishing: the route's own machinery (claims, retries, repair, counters) takes it
from there. Called inside the processing transaction, so a worker killed half-way leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F
from django.utils import timezone

from connections.flow.read import tasks_for
from connections.flow.routing import TransformFailed, chain_transform, queue_open_tasks
from connections.models import Route, RouteRun, Run, Task, TriggerSource
from connections.subscribers import Page
from connections.waits import WaitUntil, until_text
from lib.rows import insert_rows

__all__ = ["Fed", "NothingToFeed", "feed_route", "feed_routes"]

Identifier = Callable[[dict[str, Any]], str]


class NothingToFeed(Exception):
    """The hook feeds no enabled route: the delivery fails (kept, replayable once a route is connected)."""


@dataclass
class Fed:
    """Per source (a delivery, a key): the tasks made for it; and the route runs holding them."""

    task_ids: dict[Hashable, list[int]] = field(default_factory=dict)
    route_runs: list[int] = field(default_factory=list)


def feed_route(route: Route, groups: Sequence[tuple[Hashable, list[dict[str, Any]]]], *, identifier: Identifier,
               source: Callable[[Hashable], str], division: int | None = None, fed: Fed | None = None) -> Fed:
    """Write each group's entities as tasks of ``route`` (through its chain); queue them after commit."""
    fed = fed if fed is not None else Fed()
    now = timezone.now()
    run = Run.objects.create(incoming_id=route.incoming_id, trigger=TriggerSource.WEBHOOK, status=Run.Status.SUCCEEDED,
                             created_at=now, started_at=now, finished_at=now, heartbeat_at=now)
    route_run = RouteRun.objects.create(route=route, run=run, trigger=TriggerSource.WEBHOOK,
                                        status=RouteRun.Status.PUBLISHING, created_at=now, reading_finished_at=now,
                                        heartbeat_at=now)
    chained = chain_transform(route)
    chained.begin_page([entity for _, entities in groups for entity in entities])

    def transform(entity: dict[str, Any]) -> Any:
        try:
            return chained(entity)
        except WaitUntil as wait:  # a lookup must wait: the task's chain runs again when it is published
            raise TransformFailed(f"{wait.reason} until {until_text(wait.until)}", retryable=True) from wait

    made: list[tuple[Hashable, list[Task]]] = []
    counts = {"pages": 0, "entities_read": 0, "tasks_created": 0, "tasks_skipped": 0, "tasks_failed": 0}
    for key, entities in groups:
        page = Page(division=division, number=1, entities=entities, next_url=None, endpoint=source(key), api_calls=0)
        tasks, skipped, failed = tasks_for(run, identifier, page, transform)
        made.append((key, tasks))
        counts["pages"] += 1
        counts["entities_read"] += len(entities)
        counts["tasks_created"] += len(tasks)
        counts["tasks_skipped"] += skipped
        counts["tasks_failed"] += failed
    insert_rows(Task, [task for _, tasks in made for task in tasks], batch_size=Task.BULK_BATCH)
    chained.end_page()  # what the chain's storage steps stored, in the processing transaction
    for key, tasks in made:
        fed.task_ids.setdefault(key, []).extend(task.pk for task in tasks)
    Run.objects.filter(pk=run.pk).update(**{name: F(name) + n for name, n in counts.items() if n})
    queue_open_tasks(route_run, only_new=True)
    route_run.finish_if_done()
    fed.route_runs.append(route_run.pk)
    return fed


def feed_routes(webhook: Any, groups: Sequence[tuple[Hashable, list[dict[str, Any]]]], *, identifier: Identifier,
                source: Callable[[Hashable], str], division: int | None = None) -> Fed:
    """Feed every enabled route of ``webhook``; raises ``NothingToFeed`` when there is none."""
    routes = list(webhook.fed_routes())
    if not routes:
        raise NothingToFeed("No enabled route is fed by this webhook: connect a route, then replay.")
    fed = Fed()
    for route in routes:
        feed_route(route, groups, identifier=identifier, source=source, division=division, fed=fed)
    return fed
