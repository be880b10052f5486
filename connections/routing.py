"""Route runs as plain functions (the Celery tasks in ``route_tasks`` and the views only call these).

A run: ``start_route_run`` claims the route (one active run per route) and creates the Incoming's Run;
``read_route_run`` streams the Incoming through the runner with the route's transformer chain as its
per-entity hook, and queues the New tasks in batches after each commit; ``publish_batch`` claims each
task atomically (New/Retry -> Processing with a filtered update), publishes it and records the outcome.
A worker killed mid-batch leaves its claimed task in Processing and the rest New: ``repair`` puts the
first back to Retry (its next attempt looks the record up before writing again) and re-queues the rest.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from .models import Outgoing, Route, RouteRun, Run, SourceIdMap, Task
from .publishers import PublishError, PublishJob, get_publisher
from .route_chain import (
    ChainOutcome,
    apply_deferred,
    attach_deferred,
    route_chain,
    run_outgoing_transformer,
    split_deferred,
)
from .transformers.errors import ServiceError

__all__ = [
    "OPEN_STATUSES",
    "RouteBusy",
    "chain_transform",
    "claim",
    "counters",
    "dry_run",
    "maybe_finish",
    "prune_old_tasks",
    "publish_batch",
    "publish_claimed",
    "publish_task",
    "queue_open_tasks",
    "read_route_run",
    "repair",
    "run_inline",
    "start_route_run",
]

logger = logging.getLogger(__name__)
OPEN_STATUSES = (Task.Status.NEW, Task.Status.PROCESSING, Task.Status.RETRY)
CLAIMABLE = (Task.Status.NEW, Task.Status.RETRY)


class TransformFailed(Exception):
    """The route's chain failed on one entity: the runner fails that entity's task with this message."""


class RouteBusy(Exception):
    """The route (or its Incoming) already has an active run."""

    def __init__(self, message: str, run: RouteRun | None = None) -> None:
        super().__init__(message)
        self.run = run


def _enqueue(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Send a Celery task once the current transaction commits (workers never see uncommitted rows)."""
    from . import route_tasks

    task = getattr(route_tasks, task_name)
    send = partial(task.apply_async, args=args, countdown=countdown) if countdown else partial(task.delay, *args)
    transaction.on_commit(send)


# --- starting and reading ---------------------------------------------------------------------------


def start_route_run(route: Route, *, trigger: str = RouteRun.Trigger.MANUAL, user: Any = None,
                    enqueue: bool = True) -> RouteRun:
    """Claim the route and create its run; raises ``RouteBusy`` when a run is still active.

    The claim is the partial unique constraint "one active run per route" (and the Incoming's own
    "one active run per incoming"): two racing starts cannot both insert.
    """
    if not route.enabled and trigger == RouteRun.Trigger.SCHEDULED:
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
        _enqueue("read_route", route_run.pk)
    return route_run


def chain_transform(route: Route) -> Callable[[dict[str, Any]], Any]:
    """The route's transformer chain as the runner's per-entity hook (entities, ``Skip``, or raises)."""
    from .runner import Skip

    chain = route_chain(route)

    def transform(entity: dict[str, Any]) -> list[dict[str, Any]] | Skip:
        outcome = chain(entity)
        if outcome.error:
            raise TransformFailed(outcome.error)
        if outcome.skipped_reason is not None:
            return Skip(outcome.skipped_reason)
        return attach_deferred(outcome.entities, outcome.deferred)

    return transform


def read_route_run(route_run: RouteRun) -> None:
    """Read the Incoming through the runner, transforming each entity with the route's chain.

    Tasks are queued for publishing page by page (after each commit), so publishing starts while
    reading goes on.
    """
    from .runner import execute_incoming_run

    run = route_run.run
    if run is None or route_run.status != RouteRun.Status.READING:
        return
    transform = chain_transform(route_run.route)

    def on_page(_run: Any, _page: Any) -> None:
        queue_open_tasks(route_run, only_new=True)
        RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=timezone.now())

    error = ""
    try:
        execute_incoming_run(run.pk, transform=transform, on_page=on_page)
    except Exception as exc:  # the runner records its own failures; anything escaping it closes the route run
        logger.exception("route run %s: reading failed", route_run.pk)
        error = str(exc) or exc.__class__.__name__
    run.refresh_from_db()
    if run.is_active and not error:
        return  # another worker holds the read (a duplicate message): it closes the reading itself
    if run.status == Run.Status.FAILED and not error:
        error = run.error or "Reading failed."
    now = timezone.now()
    RouteRun.objects.filter(pk=route_run.pk, status=RouteRun.Status.READING).update(
        status=RouteRun.Status.PUBLISHING, reading_finished_at=now, heartbeat_at=now, error=error,
        api_calls=F("api_calls") + run.api_calls,  # publishing may have counted its calls already
    )
    queue_open_tasks(route_run, only_new=True)
    maybe_finish(route_run.pk)


def queue_open_tasks(route_run: RouteRun, *, only_new: bool = False) -> int:
    """Queue the run's claimable, due tasks in batches of the route's batch size; returns how many.

    ``only_new`` queues New tasks never queued before (a page hook marks them by setting
    ``next_attempt_at``), so queueing after every page never sends a task twice.
    """
    if route_run.run_id is None:
        return 0
    now = timezone.now()
    if only_new:
        tasks = Task.objects.filter(run_id=route_run.run_id, status=Task.Status.NEW, next_attempt_at__isnull=True)
    else:
        tasks = Task.objects.filter(run_id=route_run.run_id, status__in=CLAIMABLE).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ids = list(tasks.order_by("pk").values_list("pk", flat=True))
    size = max(1, route_run.route.batch_size)
    for start in range(0, len(ids), size):
        batch = ids[start:start + size]
        if only_new:
            Task.objects.filter(pk__in=batch, next_attempt_at__isnull=True).update(next_attempt_at=now)
        _enqueue("publish_route_batch", route_run.pk, batch)
    return len(ids)


# --- publishing -------------------------------------------------------------------------------------


def _due() -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())


def claim(task_ids: Iterable[int]) -> list[Task]:
    """Claim the claimable, due tasks among ``task_ids`` for this worker: one filtered UPDATE.

    The claim stamps ``processing_since`` with a token unique to this call (a random sub-second offset),
    so the tasks this call moved to Processing can be told from ones another worker claimed.
    """
    ids = list(task_ids)
    if not ids:
        return []
    token = timezone.now() - timedelta(microseconds=random.randint(0, 999_999))
    Task.objects.filter(pk__in=ids, status__in=CLAIMABLE).filter(_due()).update(
        status=Task.Status.PROCESSING, processing_since=token, attempts=F("attempts") + 1)
    return list(Task.objects.filter(pk__in=ids, status=Task.Status.PROCESSING, processing_since=token).order_by("pk"))


def _backoff(route: Route, attempts: int) -> float:
    base = max(1, route.backoff_seconds) * (2 ** max(0, attempts - 1))
    return min(base, 6 * 3600) * random.uniform(1.0, 1.2)


def publish_task(task_id: int, route: Route, *, publisher_for: Callable[[str], Any] = get_publisher,
                 stats: dict[str, int] | None = None) -> str:
    """Claim and publish one task; returns the resulting status ('' when someone else has it)."""
    claimed = claim([task_id])
    if not claimed:
        return ""
    return publish_claimed(claimed[0], route, publisher_for=publisher_for, stats=stats)


def publish_claimed(task: Task, route: Route, *, publisher_for: Callable[[str], Any] = get_publisher,
                    stats: dict[str, int] | None = None) -> str:
    """Publish a task this worker claimed and record the outcome; returns its new status ('' if it lost it).

    The claim is renewed just before publishing (a filtered update on the claim stamp): a task that the
    repair job took back while it waited in a slow batch is not published by this worker any more.
    """
    renewed = timezone.now() - timedelta(microseconds=random.randint(0, 999_999))
    if not Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING,
                               processing_since=task.processing_since).update(processing_since=renewed):
        return ""
    task.processing_since = renewed
    outgoing: Outgoing = route.outgoing
    # An earlier attempt (a killed worker's, or one before a manual retry) may have reached the other side.
    maybe_published = task.attempts > 1 or task.request is not None
    data, deferred = split_deferred(task.transformed if task.transformed is not None else task.data)
    try:
        outcome = run_outgoing_transformer(outgoing, data)
    except PublishError as exc:
        task.set_status(Task.Status.FAILED, message=exc.message, level="error", error=exc.message,
                        processing_since=None)
        return task.status
    if outcome.skipped_reason is not None:
        task.set_status(Task.Status.SKIPPED, message=f"Skipped by the Outgoing's transformer: {outcome.skipped_reason}",
                        skip_reason=outcome.skipped_reason[:500], processing_since=None)
        return task.status
    path, query, payload = outgoing.merged_parts(outcome.entity)
    job = PublishJob(
        outgoing=outgoing, path=path, query=query, payload=payload, source_id=task.identifier or "",
        reference=outgoing.idempotency_reference(task.identifier or "", task.pk), attempt=task.attempts,
        maybe_published=maybe_published, config=dict(outgoing.config or {}),
        lookup_target=lambda source: SourceIdMap.lookup(outgoing.pk, source),
    )
    attempt_note = f"Attempt {task.attempts}" + (" (may have been published before: looking first)"
                                                  if maybe_published else "")
    try:
        result = publisher_for(outgoing.publisher).publish(job)
    except PublishError as exc:
        if stats is not None and exc.request is not None:
            stats["calls"] = stats.get("calls", 0) + 1
        lines = [attempt_note, *exc.log]
        for line in lines:
            task.add_log(line, save=False)
        if exc.permanent or task.attempts >= route.max_attempts:
            why = "permanent error" if exc.permanent else f"gave up after {task.attempts} attempts"
            task.set_status(Task.Status.FAILED, message=f"Failed ({why}): {exc.message}", level="error",
                            error=exc.message, request=exc.request, response=exc.response, processing_since=None)
        else:
            delay = _backoff(route, task.attempts)
            task.set_status(Task.Status.RETRY, message=f"Will retry in {delay:.0f} s: {exc.message}", level="warning",
                            error=exc.message, request=exc.request, response=exc.response, processing_since=None,
                            next_attempt_at=timezone.now() + timedelta(seconds=delay))
        return task.status
    except Exception as exc:  # a bug, not the other side: record it on the task instead of looping in repair
        logger.exception("task %s: publishing failed unexpectedly", task.pk)
        message = f"Unexpected error while publishing: {type(exc).__name__}: {exc}"
        task.set_status(Task.Status.FAILED, message=message, level="error", error=message, processing_since=None)
        return task.status
    if result.remember:
        SourceIdMap.remember(outgoing.pk, *result.remember)
    if result.forget:
        SourceIdMap.objects.filter(outgoing=outgoing, source_id=result.forget).delete()
    for line in [attempt_note, *result.log]:
        task.add_log(line, save=False)
    try:
        apply_deferred(deferred)
    except ServiceError as exc:  # published all the same; the next run will publish it again
        task.add_log(f"Could not remember its content hash: {exc}", "warning", save=False)
    task.set_status(Task.Status.FINISHED, message="Published.", external_key=result.external_key or "",
                    request=result.request, response=result.response, error="", processing_since=None)
    if stats is not None:
        stats["calls"] = stats.get("calls", 0) + result.calls
    return task.status


def publish_batch(route_run: RouteRun, task_ids: Iterable[int]) -> dict[str, int]:
    """Publish a batch of tasks of one run; tasks that end in Retry are queued again after their wait."""
    route = route_run.route
    outcome: dict[str, int] = {}
    retry_ids: list[int] = []
    stats: dict[str, int] = {}
    ids = list(task_ids)
    claimed = claim(ids)
    if len(claimed) < len(ids):
        outcome["not claimed"] = len(ids) - len(claimed)
    for task in claimed:
        status = publish_claimed(task, route, stats=stats)
        outcome[status or "not claimed"] = outcome.get(status or "not claimed", 0) + 1
        if status == Task.Status.RETRY:
            retry_ids.append(task.pk)
    RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=timezone.now(),
                                                    api_calls=F("api_calls") + stats.get("calls", 0))
    if retry_ids:
        due = Task.objects.filter(pk__in=retry_ids).order_by("-next_attempt_at").values_list(
            "next_attempt_at", flat=True).first()
        wait = max(0.0, (due - timezone.now()).total_seconds()) if due else 0.0
        _enqueue("publish_route_batch", route_run.pk, retry_ids, countdown=wait + 0.5)
    maybe_finish(route_run.pk)
    return outcome


def maybe_finish(route_run_id: int) -> bool:
    """Close a publishing run once none of its tasks is open; True when this call closed it."""
    route_run = RouteRun.objects.filter(pk=route_run_id, status=RouteRun.Status.PUBLISHING).first()
    if route_run is None:
        return False
    if route_run.run_id and Task.objects.filter(run_id=route_run.run_id, status__in=OPEN_STATUSES).exists():
        return False
    status = RouteRun.Status.FAILED if route_run.error else RouteRun.Status.FINISHED
    return RouteRun.objects.filter(pk=route_run_id, status=RouteRun.Status.PUBLISHING).update(
        status=status, finished_at=timezone.now()) == 1


def counters(route_run: RouteRun) -> dict[str, int]:
    """Tasks per status of a run (for the live counters), plus the total."""
    rows = Task.objects.filter(run_id=route_run.run_id).values("status").annotate(n=Count("pk"))
    result = {status: 0 for status, _ in Task.Status.choices}
    for row in rows:
        result[row["status"]] = row["n"]
    result["total"] = sum(result.values())
    return result


# --- housekeeping -----------------------------------------------------------------------------------


def stuck_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "TASK_STUCK_AFTER", 900))


def repair(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Put tasks stuck in Processing back to Retry, re-queue work of runs that stopped moving, close runs.

    A task is stuck when its worker died (SIGKILL, OOM, a lost node): it stays Processing, and the
    rest of its batch stays New with its broker message gone. Its next attempt counts as "maybe
    published" and looks the record up before writing again. A run "stopped moving" when no batch
    reported for ``older_than``: then all its due open tasks are queued again (a task queued twice is
    still published once: the claim is atomic).
    """
    older_than = older_than if older_than is not None else stuck_after()
    now = timezone.now()
    repaired = 0
    stuck = Task.objects.filter(status=Task.Status.PROCESSING, processing_since__lt=now - older_than)
    for task in stuck.iterator():
        moved = Task.objects.filter(pk=task.pk, status=Task.Status.PROCESSING,
                                    processing_since=task.processing_since).update(
            status=Task.Status.RETRY, next_attempt_at=now, processing_since=None)
        if moved:
            task.refresh_from_db()
            task.add_log("Stuck in Processing: its worker stopped. Queued again; the next attempt looks the "
                         "record up before writing.", "warning")
            repaired += 1
    requeued = 0
    # Reading that never started (its message was lost) or died with its worker.
    for route_run in RouteRun.objects.filter(status=RouteRun.Status.READING, heartbeat_at__lt=now - older_than):
        run = route_run.run
        if run is not None and run.status == Run.Status.QUEUED:
            RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=now)
            _enqueue("read_route", route_run.pk)  # the run's own claim keeps a duplicate from reading twice
            requeued += 1
            continue
        if run is not None and run.is_active and run.heartbeat_at and run.heartbeat_at >= now - older_than:
            continue  # still reading
        if run is not None and run.is_active:
            run.finish(Run.Status.FAILED, "Worker stopped reporting while reading.")
        RouteRun.objects.filter(pk=route_run.pk, status=RouteRun.Status.READING).update(
            status=RouteRun.Status.PUBLISHING, reading_finished_at=now, heartbeat_at=now - older_than,
            error="Reading stopped (its worker died); what was read is published.")
    for route_run in RouteRun.objects.filter(status=RouteRun.Status.PUBLISHING).select_related("route"):
        if route_run.heartbeat_at < now - older_than or repaired:
            requeued += queue_open_tasks(route_run)
            RouteRun.objects.filter(pk=route_run.pk).update(heartbeat_at=now)
        maybe_finish(route_run.pk)
    return {"repaired": repaired, "requeued": requeued}


def prune_old_tasks(*, days: int | None = None, chunk: int = 2000) -> int:
    """Delete finished, failed and skipped tasks older than the retention, and runs left empty."""
    days = days if days is not None else int(getattr(settings, "TASK_RETENTION_DAYS", 30))
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    done = (Task.Status.FINISHED, Task.Status.FAILED, Task.Status.SKIPPED)
    while True:
        ids = list(Task.objects.filter(status__in=done, updated_at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        deleted += Task.objects.filter(pk__in=ids).delete()[0]
    RouteRun.objects.filter(status__in=(RouteRun.Status.FINISHED, RouteRun.Status.FAILED),
                            finished_at__lt=cutoff, run__tasks__isnull=True).delete()
    return deleted


def run_inline(route: Route, *, user: Any = None) -> RouteRun:
    """A whole run in this process (the management command): read, then publish every due task in batches.

    Tasks left in Retry (waiting for their backoff) are published later by the workers or the repair job.
    """
    route_run = start_route_run(route, trigger=RouteRun.Trigger.MANUAL, user=user, enqueue=False)
    read_route_run(route_run)
    route_run.refresh_from_db()
    now = timezone.now()
    ids = list(Task.objects.filter(run_id=route_run.run_id, status__in=CLAIMABLE)
               .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).values_list("pk", flat=True))
    size = max(1, route.batch_size)
    for start in range(0, len(ids), size):
        publish_batch(route_run, ids[start:start + size])
    route_run.refresh_from_db()
    return route_run


# --- dry run ------------------------------------------------------------------------------------------


def dry_run(route: Route, *, entities: list[Any] | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """What the route would publish for a sample of the Incoming, without writing anything to Exact."""
    from .route_chain import sample_entities

    if entities is None:
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
