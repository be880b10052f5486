"""A route run, end to end: start it, read (step 1) through the route's chain (step 2), publish (step 3), close.

``start_route_run`` claims the route (one active run per route) and creates the Incoming's Run;
``read_route_run`` reads the Incoming with the route's transformer chain as the per-entity hook and queues
the New tasks in batches as each page commits (saved already marked queued), so publishing starts while
reading goes on; each
batch is published by ``publish.publish_batch``. ``repair`` (the beat job) takes back tasks whose worker
died, re-queues the work of runs that stopped moving, queues retries whose long wait is over, and closes
runs. The Celery tasks in ``connections.tasks`` and the views only call these functions.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from ..models import Route, RouteRun, Run, Task, TriggerSource
from ..publishers import PublishError, get_publisher
from ..storage_service import PageWrites
from .publish import publish_batch
from .queue import queue_publishing, send_after_commit, send_when_due
from .read import Skip, execute_incoming_run
from .transform import ChainOutcome, attach_deferred, route_chain, run_outgoing_transformer, sample_entities

__all__ = [
    "RouteBusy",
    "chain_transform",
    "counters",
    "dry_run",
    "prune_old_tasks",
    "queue_due_reads",
    "queue_due_retries",
    "queue_open_tasks",
    "read_route_run",
    "repair",
    "requeue_tasks",
    "run_inline",
    "skip_task",
    "start_route_run",
]

logger = logging.getLogger(__name__)


class TransformFailed(Exception):
    """The route's chain failed on one entity: the reader fails that entity's task with this message, or,
    when ``retryable``, makes it a task whose chain runs again before publishing (``publish.transform_again``)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class RouteBusy(Exception):
    """The route (or its Incoming) already has an active run."""

    def __init__(self, message: str, run: RouteRun | None = None) -> None:
        super().__init__(message)
        self.run = run


# --- starting and reading ---------------------------------------------------------------------------


def start_route_run(route: Route, *, trigger: str = TriggerSource.MANUAL, user: Any = None,
                    enqueue: bool = True) -> RouteRun:
    """Claim the route and create its run; raises ``RouteBusy`` when a run is still active.

    The claim is the partial unique constraint "one active run per route" (and the Incoming's own
    "one active run per incoming"): two racing starts cannot both insert.
    """
    if not route.enabled and trigger == TriggerSource.SCHEDULED:
        raise RouteBusy("The route is disabled.")
    if route.incoming_id is None:
        raise RouteBusy("The route has no Incoming to read: its webhook feeds it.")
    try:
        with transaction.atomic():
            route_run = RouteRun.objects.create(route=route, trigger=trigger, started_by=user)
            run, created = Run.enqueue(route.incoming, trigger=trigger, user=user)
            if not created:
                raise RouteBusy(f"The Incoming {route.incoming} is still reading (run {run.pk}).")
            route_run.run = run
            route_run.save(update_fields=["run"])
    except IntegrityError:
        active = route.active_run()
        raise RouteBusy(f"{route} is already running (run {active.pk if active else '?'}).", active) from None
    if enqueue:
        send_after_commit("read_route", route_run.pk)
    return route_run


class ChainTransform:
    """The route's transformer chain as the reader's per-entity hook (entities, ``Skip``, or raises), a page at a
    time: ``begin_page``/``take_page`` (see ``RouteChain``) let its storage steps ask once per page."""

    def __init__(self, route: Route) -> None:
        self.chain = route_chain(route)

    def __call__(self, entity: dict[str, Any]) -> list[dict[str, Any]] | Skip:
        outcome = self.chain(entity)
        if outcome.error:
            raise TransformFailed(outcome.error, retryable=outcome.retryable)
        if outcome.skipped_reason is not None:
            return Skip(outcome.skipped_reason)
        return attach_deferred(outcome.entities, outcome.deferred)

    def begin_page(self, entities: list[dict[str, Any]]) -> None:
        self.chain.begin_page(entities)

    def end_page(self) -> int:
        return self.chain.end_page()

    def take_page(self) -> PageWrites:
        return self.chain.take_page()


def chain_transform(route: Route) -> ChainTransform:
    """The route's transformer chain as the reader's per-entity hook (entities, ``Skip``, or raises)."""
    return ChainTransform(route)


def read_route_run(route_run: RouteRun) -> None:
    """Read the Incoming, transforming each entity with the route's chain, then start closing the run.

    Tasks are queued for publishing page by page (after each commit), so publishing starts while
    reading goes on.
    """
    run = route_run.run
    if run is None or route_run.status != RouteRun.Status.READING:
        return
    transform = chain_transform(route_run.route)
    batch_size = route_run.route.batch_size
    marks = connection.features.can_return_rows_from_bulk_insert  # the page's task ids come back from the insert

    def queue(ids: list[int]) -> None:  # in the page's transaction: sent once it commits
        queue_publishing(route_run.pk, ids, batch_size=batch_size, marked=True)

    def on_page(_run: Run, _page: Any) -> None:
        if not marks:
            queue_open_tasks(route_run, only_new=True)
        route_run.touch()

    error = ""
    try:
        execute_incoming_run(run.pk, transform=transform, on_page=on_page, queue=queue if marks else None)
    except Exception as exc:  # the reader records its own failures; anything escaping it closes the route run
        logger.exception("route run %s: reading failed", route_run.pk)
        error = str(exc) or exc.__class__.__name__
    run.refresh_from_db()
    if run.status == Run.Status.QUEUED and run.waiting_until and not error:
        route_run.wait(run.waiting_until, run.wait_reason)  # e.g. the quota: read on from the checkpoint then
        send_when_due("read_route", route_run.pk, until=run.waiting_until)
        return
    if run.is_active and not error:
        return  # another worker holds the read (a duplicate message): it closes the reading itself
    if run.status == Run.Status.FAILED and not error:
        error = run.error or "Reading failed."
    route_run.finish_reading(error=error, api_calls=run.api_calls)
    queue_open_tasks(route_run, only_new=True)
    route_run.finish_if_done()


def queue_open_tasks(route_run: RouteRun, *, only_new: bool = False) -> int:
    """Queue the run's claimable, due tasks in batches of the route's batch size; returns how many.

    ``only_new`` queues only New tasks never queued before, so queueing after every page never sends a
    task twice.
    """
    if route_run.run_id is None:
        return 0
    tasks = route_run.tasks()
    tasks = tasks.filter(status=Task.Status.NEW, queued_at__isnull=True) if only_new else tasks.claimable()
    ids = list(tasks.order_by("pk").values_list("pk", flat=True))
    return queue_publishing(route_run.pk, ids, batch_size=route_run.route.batch_size)


def requeue_tasks(tasks: list[Task], *, message: str, interactive: bool = False) -> tuple[int, int]:
    """A user's retry: put tasks back to Retry (due now) and queue them per run; returns (queued, without a route).
    ``interactive`` when the user waits at the screen for the outcome (a Retry click), not a bulk job's chunk.

    A task whose run belongs to no route (a plain Incoming run) has nowhere to be published: left alone. Only
    ``pk`` and ``run_id`` of ``tasks`` are read; the move is one UPDATE (``Task.requeue_many``), however many.
    """
    by_run = {rr.run_id: rr for rr in RouteRun.objects.select_related("route").filter(
        run_id__in={task.run_id for task in tasks if task.run_id})}  # one query, not one per task
    routed = [task.pk for task in tasks if task.run_id in by_run]
    per_run: dict[int, list[int]] = {}
    with transaction.atomic():  # the messages go once the move commits
        for pk, run_id in Task.requeue_many(routed, message, queued=True):
            per_run.setdefault(by_run[run_id].pk, []).append(pk)
        routes = {rr.pk: rr.route for rr in by_run.values()}
        for route_run_id, ids in per_run.items():
            queue_publishing(route_run_id, ids, batch_size=routes[route_run_id].batch_size, marked=True,
                             interactive=interactive)
    return sum(len(ids) for ids in per_run.values()), len(tasks) - len(routed)


def skip_task(task: Task, *, user: Any) -> bool:
    """A user's skip (the task page, the API): Skipped if it waits or failed, and its run closes when nothing
    is left open; False when the task's status does not allow it."""
    if not task.skip(f"Skipped by {user}", message=f"Skipped by {user}."):
        return False
    for route_run in RouteRun.objects.filter(run_id=task.run_id) if task.run_id else ():
        route_run.finish_if_done()
    return True


def counters(route_run: RouteRun) -> dict[str, int]:
    """Tasks per status of a run (for the live counters), plus the total."""
    rows = route_run.tasks().values("status").annotate(n=Count("pk"))
    result = {status: 0 for status, _ in Task.Status.choices}
    for row in rows:
        result[row["status"]] = row["n"]
    result["total"] = sum(result.values())
    return result


# --- housekeeping (the beat's repair and prune jobs) ----------------------------------------------


def stuck_after() -> timedelta:
    return timedelta(seconds=settings.TASK_STUCK_AFTER)


def queue_due_retries() -> int:
    """Queue the Retry tasks whose wait is over and that no message is on its way for (long waits).

    A wait longer than the broker's countdown limit is never a broker countdown (``publish.max_countdown``):
    the task waits here, in the database, and this sweep sends it once due.
    """
    due = Task.objects.filter(status=Task.Status.RETRY, queued_at__isnull=True, run__route_run__isnull=False).due()
    per_run: dict[int, list[int]] = {}
    for task_id, route_run_id in due.order_by("pk").values_list("pk", "run__route_run"):
        per_run.setdefault(route_run_id, []).append(task_id)
    queued = 0
    for route_run in RouteRun.objects.filter(pk__in=per_run).select_related("route"):
        queued += queue_publishing(route_run.pk, per_run[route_run.pk], batch_size=route_run.route.batch_size)
    return queued


def repair(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Put tasks stuck in Processing back to Retry, re-queue work of runs that stopped moving, queue retries
    that are due, close runs.

    A task is stuck when its worker died (SIGKILL, OOM, a lost node): it stays Processing, and the
    rest of its batch stays New with its broker message gone. Its next attempt counts as "maybe
    published" and looks the record up before writing again. A run "stopped moving" when no batch
    reported for ``older_than``: then all its due open tasks are queued again (a task queued twice is
    still published once: the claim is atomic).
    """
    older_than = older_than if older_than is not None else stuck_after()
    now = timezone.now()
    repaired = 0
    for task in Task.objects.filter(status=Task.Status.PROCESSING, processing_since__lt=now - older_than).iterator():
        if task.release("Stuck in Processing: its worker stopped. Queued again; the next attempt looks the "
                        "record up before writing."):
            repaired += 1
    requeued = 0
    # Reading that never started (its message was lost) or died with its worker.
    for route_run in RouteRun.objects.filter(status=RouteRun.Status.READING, heartbeat_at__lt=now - older_than):
        run = route_run.run
        if run is not None and run.status == Run.Status.QUEUED and run.waiting_until and run.waiting_until > now:
            continue  # a read that waits (its quota): queued below once due
        if run is not None and run.status == Run.Status.QUEUED:
            route_run.touch(at=now)
            send_after_commit("read_route", route_run.pk)  # the run's own claim keeps a duplicate from reading twice
            requeued += 1
            continue
        if run is not None and run.is_active and run.heartbeat_at and run.heartbeat_at >= now - older_than:
            continue  # still reading
        if run is not None and run.is_active:
            run.finish(Run.Status.FAILED, "Worker stopped reporting while reading.")
        route_run.finish_reading(error="Reading stopped (its worker died); what was read is published.",
                                 heartbeat_at=now - older_than)
    for route_run in RouteRun.objects.filter(status=RouteRun.Status.PUBLISHING).select_related("route"):
        if route_run.heartbeat_at < now - older_than or repaired:
            requeued += queue_open_tasks(route_run)
            route_run.touch(at=now)
        route_run.finish_if_done()
    requeued += queue_due_retries()
    requeued += queue_due_reads(now)
    return {"repaired": repaired, "requeued": requeued}


def queue_due_reads(now: Any = None) -> int:
    """Send the reads whose wait (``Run.wait``) is over and whose countdown message did not start them (a wait
    longer than ``TASK_MAX_COUNTDOWN``, or a lost message); a duplicate finds the run claimed and does nothing."""
    now = now or timezone.now()
    sent = 0
    due = Run.objects.filter(status=Run.Status.QUEUED, waiting_until__lte=now - timedelta(seconds=30))
    for run_id, route_run_id in due.values_list("pk", "route_run"):
        if route_run_id is not None:
            send_after_commit("read_route", route_run_id)
        else:
            send_after_commit("run_incoming", run_id)
        sent += 1
    return sent


def prune_old_tasks(*, days: int | None = None, chunk: int = 2000) -> int:
    """Delete finished, failed and skipped tasks older than the retention, and runs left empty."""
    days = days if days is not None else settings.TASK_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        old = Task.objects.filter(status__in=Task.DONE, updated_at__lt=cutoff)
        ids = list(old.values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        deleted += Task.objects.filter(pk__in=ids).delete()[0]
    RouteRun.objects.filter(status__in=RouteRun.TERMINAL, finished_at__lt=cutoff, run__tasks__isnull=True).delete()
    return deleted + prune_preview_tasks(chunk=chunk)


def prune_preview_tasks(*, hours: int | None = None, chunk: int = 2000) -> int:
    """Delete the tasks of Incoming runs outside a route (previews) once they are older than the setting."""
    hours = hours if hours is not None else settings.PREVIEW_TASK_HOURS
    cutoff = timezone.now() - timedelta(hours=hours)
    deleted = 0
    previews = Task.objects.exclude(Task.in_routes()).filter(created_at__lt=cutoff)
    while ids := list(previews.values_list("pk", flat=True)[:chunk]):
        deleted += Task.objects.filter(pk__in=ids).delete()[0]
    return deleted


def run_inline(route: Route, *, user: Any = None) -> RouteRun:
    """A whole run in this process (the management command): read, then publish every due task in batches.

    Tasks left in Retry (waiting for their backoff) are published later by the workers or the repair job.
    """
    route_run = start_route_run(route, trigger=TriggerSource.MANUAL, user=user, enqueue=False)
    read_route_run(route_run)
    route_run.refresh_from_db()
    while route_run.status == RouteRun.Status.READING and route_run.run and route_run.run.waiting_until:
        # In the foreground only (the command): a worker defers the read instead (connections.waits).
        time.sleep(max(0.0, (route_run.run.waiting_until - timezone.now()).total_seconds()) + 0.1)
        read_route_run(route_run)
        route_run.refresh_from_db()
    ids = list(route_run.tasks().claimable().values_list("pk", flat=True))
    size = max(1, route.batch_size)
    for start in range(0, len(ids), size):
        publish_batch(route_run, ids[start:start + size])
    route_run.refresh_from_db()
    return route_run


# --- dry run ------------------------------------------------------------------------------------------


def dry_run(route: Route, *, entities: list[Any] | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """What the route would publish for a sample of the Incoming, without writing anything to the other side."""
    if entities is None:
        if route.incoming is None:
            raise LookupError("The route has no Incoming to sample: its webhook feeds it.")
        entities = sample_entities(route.incoming, limit=limit)
    hook = route_chain(route, dry=True)
    publisher = get_publisher(route.outgoing.publisher)
    rows: list[dict[str, Any]] = []
    for entity in entities[:limit]:
        outcome: ChainOutcome = hook(entity)
        if outcome.error:
            rows.append({"incoming": entity, "status": "failed", "error": outcome.error})
            continue
        if outcome.skipped_reason is not None:
            rows.append({"incoming": entity, "status": "skipped", "reason": outcome.skipped_reason})
            continue
        for transformed in outcome.entities:
            try:
                final = run_outgoing_transformer(route.outgoing, transformed)
            except PublishError as exc:
                rows.append({"incoming": entity, "transformed": transformed, "status": "failed", "error": exc.message})
                continue
            if final.skipped_reason is not None:
                rows.append({"incoming": entity, "transformed": transformed, "status": "skipped",
                             "reason": final.skipped_reason})
                continue
            path, query, payload = route.outgoing.merged_parts(final.entity)
            rows.append({
                "incoming": entity, "transformed": transformed, "status": "would publish",
                "request": publisher.describe(action=route.outgoing.action, entity=route.outgoing.entity,
                                              path=path, query=query),
                "path": path, "query": query, "payload": payload,
            })
    return rows
