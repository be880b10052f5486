"""Items received by a webhook become tasks of the routes it feeds, as if an Incoming had read them.

One batch of deliveries makes, per route, a finished ``Run`` (trigger Webhook) holding the tasks and a
``RouteRun`` that is already publishing: the route's own machinery (claims, retries, repair, counters) takes it
from there. Two steps, as the reader saves a page: ``prepare_route`` runs the route's chain over the items and
builds the tasks (reads and lookups only, outside any transaction), ``FeedPart.write`` saves the run, the tasks
and what the chain's storage steps stored, in the caller's short transaction. SQLite has one writer for every
process: the webhook endpoint's INSERT waits only for the writes, never for a batch's parsing and transforming.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from connections.flow.queue import queue_publishing
from connections.flow.read import tasks_for
from connections.flow.routing import ChainTransform, TransformFailed, chain_transform
from connections.models import Route, RouteRun, Run, Task, TriggerSource
from connections.subscribers import Page
from connections.waits import WaitUntil, until_text
from lib.rows import insert_rows

__all__ = ["Fed", "FeedPart", "NothingToFeed", "feed_route", "prepare_route", "prepare_routes"]

Identifier = Callable[[dict[str, Any]], str]


class NothingToFeed(Exception):
    """The hook feeds no enabled route: the delivery fails (kept, replayable once a route is connected)."""


@dataclass
class Fed:
    """Per source (a delivery, a key): the tasks made for it; and the route runs holding them."""

    task_ids: dict[Hashable, list[int]] = field(default_factory=dict)
    route_runs: list[int] = field(default_factory=list)


@dataclass
class FeedPart:
    """One route's tasks for a batch, built and not saved yet: ``write`` saves them (inside a transaction)."""

    route: Route
    run: Run
    route_run: RouteRun
    chained: ChainTransform
    made: list[tuple[Hashable, list[Task]]]

    def write(self, fed: Fed | None = None) -> Fed:
        """Save the run, its route run and tasks and the chain's storage writes; queue the tasks after commit."""
        fed = fed if fed is not None else Fed()
        now = timezone.now()
        run, route_run = self.run, self.route_run
        run.created_at = run.started_at = run.finished_at = run.heartbeat_at = now
        run.save(force_insert=True)
        route_run.run = run  # its run_id, now that the run has one
        route_run.created_at = route_run.reading_finished_at = route_run.heartbeat_at = now
        route_run.save(force_insert=True)
        tasks = [task for _, made in self.made for task in made]
        for task in tasks:
            task.run_id = run.pk
            if task.status == Task.Status.NEW:
                task.queued_at = now  # saved as queued (as the reader's pages): no second write to mark them
        insert_rows(Task, tasks, batch_size=Task.BULK_BATCH)
        self.chained.end_page()  # what the chain's storage steps stored, in the same transaction
        queue_publishing(route_run.pk, [task.pk for task in tasks if task.queued_at is not None],
                         batch_size=self.route.batch_size, marked=True, interactive=True)  # "within seconds"
        route_run.finish_if_done()
        for key, made in self.made:
            fed.task_ids.setdefault(key, []).extend(task.pk for task in made)
        fed.route_runs.append(route_run.pk)
        return fed


def prepare_route(route: Route, groups: Sequence[tuple[Hashable, list[dict[str, Any]]]], *, identifier: Identifier,
                  source: Callable[[Hashable], str], division: int | None = None) -> FeedPart:
    """Run each group's entities through ``route``'s chain into tasks; nothing is written (see the module)."""
    run = Run(incoming_id=route.incoming_id, trigger=TriggerSource.WEBHOOK, status=Run.Status.SUCCEEDED)
    route_run = RouteRun(route=route, run=run, trigger=TriggerSource.WEBHOOK, status=RouteRun.Status.PUBLISHING)
    chained = chain_transform(route)
    chained.begin_page([entity for _, entities in groups for entity in entities])

    def transform(entity: dict[str, Any]) -> Any:
        try:
            return chained(entity)
        except WaitUntil as wait:  # a lookup must wait: the task's chain runs again when it is published
            raise TransformFailed(f"{wait.reason} until {until_text(wait.until)}", retryable=True) from wait

    made: list[tuple[Hashable, list[Task]]] = []
    for key, entities in groups:
        page = Page(division=division, number=1, entities=entities, next_url=None, endpoint=source(key), api_calls=0)
        tasks, skipped, failed = tasks_for(run, identifier, page, transform)
        made.append((key, tasks))
        run.pages += 1
        run.entities_read += len(entities)
        run.tasks_created += len(tasks)
        run.tasks_skipped += skipped
        run.tasks_failed += failed
    return FeedPart(route=route, run=run, route_run=route_run, chained=chained, made=made)


def prepare_routes(webhook: Any, groups: Sequence[tuple[Hashable, list[dict[str, Any]]]], *,
                   identifier: Identifier, source: Callable[[Hashable], str]) -> list[FeedPart]:
    """``prepare_route`` for every enabled route of ``webhook``; raises ``NothingToFeed`` when there is none."""
    routes = list(webhook.fed_routes())
    if not routes:
        raise NothingToFeed("No enabled route is fed by this webhook: connect a route, then replay.")
    return [prepare_route(route, groups, identifier=identifier, source=source) for route in routes]


def feed_route(route: Route, groups: Sequence[tuple[Hashable, list[dict[str, Any]]]], *, identifier: Identifier,
               source: Callable[[Hashable], str], division: int | None = None, fed: Fed | None = None) -> Fed:
    """Both steps at once (call inside a transaction): for a caller with nothing to do between them."""
    return prepare_route(route, groups, identifier=identifier, source=source, division=division).write(fed)
