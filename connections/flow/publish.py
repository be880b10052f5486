"""Step 3, publish: claim tasks, run the Outgoing's transformer, hand each to its publisher, record the outcome.

A worker claims a batch atomically (``Task.objects.claim``), renews each claim just before publishing (a
task the repair job took back meanwhile is left alone) and ends each task with one of its transitions:
Finished, Failed (permanent error, or out of attempts), Retry (transient error, after the route's backoff)
or Skipped (the Outgoing's transformer said so).

Retries wait in the database, not in the broker: only a wait up to ``TASK_MAX_COUNTDOWN`` becomes a broker
countdown; a longer one is queued by the repair job once due (``routing.queue_due_retries``), because a
broker holds a countdown message unacknowledged and redelivers it after its visibility timeout.

A publisher that cannot send yet (the other side's quota is used up until its reset, or it is down) raises
``WaitUntil`` (``connections.waits``), and so does a lookup of a chain run again before publishing
(``transform_again``): that task and the rest of its batch are deferred to that moment, their attempts
given back, and the worker takes other work at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from alerts.maintenance import InMaintenance, route_window
from configuration.variables import UnknownVariable, resolved

from ..models import Route, RouteRun, SourceIdMap, Task
from ..publishers import Publisher, PublishError, PublishJob, get_publisher
from ..transformers.errors import ServiceError
from ..waits import WaitUntil
from .queue import queue_publishing
from .transform import apply_deferred, attach_deferred, route_chain, run_outgoing_transformer, split_deferred

__all__ = ["backoff_seconds", "hold_for_maintenance", "max_countdown", "publish_batch", "publish_claimed",
           "publish_task", "transform_again"]

logger = logging.getLogger(__name__)

PublisherFor = Callable[[str], Publisher]


def backoff_seconds(route: Route, attempts: int) -> float:
    """The wait before the next attempt: the route's backoff, doubled per attempt (capped at 6 h), jittered."""
    base = max(1, route.backoff_seconds) * (2 ** max(0, attempts - 1))
    return min(base, 6 * 3600) * random.uniform(1.0, 1.2)


def max_countdown() -> float:
    """The longest wait sent to the broker as a countdown; longer ones are queued from the database when due."""
    return float(settings.TASK_MAX_COUNTDOWN)


def publish_task(task_id: int, route: Route, *, publisher_for: PublisherFor = get_publisher,
                 stats: dict[str, int] | None = None) -> str:
    """Claim and publish one task; returns the resulting status ('' when someone else has it)."""
    claimed = Task.objects.claim([task_id])
    if not claimed:
        return ""
    try:
        return publish_claimed(claimed[0], route, publisher_for=publisher_for, stats=stats)
    except WaitUntil:
        return Task.Status.RETRY


@dataclass
class _Prepared:
    """A claimed task made ready to publish: its job and the deferred writes to apply once it is published."""

    task: Task
    job: PublishJob
    deferred: Any
    targets: dict[str, str] | None = None  # the batch's id map, kept current as tasks of the batch publish


def _prepare(task: Task, route: Route, targets: dict[str, str] | None = None) -> _Prepared | None:
    """Run the Outgoing's transformer and build the task's job; None when the task ended here (failed, skipped).

    ``targets`` is the batch's source id -> target id map, read in one query; without it the map is asked per task.
    A lookup (of the route's chain run again, or of the Outgoing's transformer) that must wait raises
    ``WaitUntil``: the task is deferred to then, its attempt given back.
    """
    try:
        return _prepare_task(task, route, targets)
    except WaitUntil as wait:  # a lookup's quota or outage: the task waits, the attempt given back
        task.defer(wait.until, wait.reason, counted=False)
        raise


def _prepare_task(task: Task, route: Route, targets: dict[str, str] | None) -> _Prepared | None:
    if task.retransform and not transform_again(task, route):
        return None
    try:
        outgoing = resolved(route.outgoing)  # its variables (and its client's) as they are now
    except UnknownVariable as exc:
        task.fail(f"{exc} (used by the Outgoing or its HTTP client)", error=str(exc))
        return None
    # An earlier attempt (a killed worker's, or one before a manual retry) may have reached the other side.
    maybe_published = task.attempts > 1 or task.request is not None
    data, deferred = split_deferred(task.transformed if task.transformed is not None else task.data)
    try:
        outcome = run_outgoing_transformer(outgoing, data)
    except PublishError as exc:
        task.fail(exc.message, error=exc.message)
        return None
    if outcome.skipped_reason is not None:
        task.skip(outcome.skipped_reason, message=f"Skipped by the Outgoing's transformer: {outcome.skipped_reason}",
                  claimed=True)
        return None
    path, query, payload = outgoing.merged_parts(outcome.entity)
    if targets is None:
        def lookup_target(source: str) -> str | None:
            return SourceIdMap.lookup(outgoing.pk, source)
    else:
        def lookup_target(source: str) -> str | None:
            return targets.get(source)
    job = PublishJob(
        outgoing=outgoing, path=path, query=query, payload=payload, source_id=task.identifier or "",
        reference=outgoing.idempotency_reference(task.identifier or "", task.pk), attempt=task.attempts,
        maybe_published=maybe_published, config={**(outgoing.config or {}), **outgoing.get_secrets()},
        lookup_target=lookup_target,
    )
    return _Prepared(task, job, deferred, targets)


def publish_claimed(task: Task, route: Route, *, publisher_for: PublisherFor = get_publisher,
                    stats: dict[str, int] | None = None) -> str:
    """Publish a task this worker claimed and record the outcome; returns its new status ('' if it lost it)."""
    if not task.renew_claim():
        return ""
    prepared = _prepare(task, route)
    if prepared is None:
        return task.status
    return _publish_prepared(prepared, route, publisher_for(route.outgoing.publisher), stats=stats)


def _publish_prepared(prepared: _Prepared, route: Route, publisher: Publisher, *,
                      stats: dict[str, int] | None = None) -> str:
    """Hand a prepared task to its publisher and record the outcome; returns the task's new status."""
    task, job, outgoing = prepared.task, prepared.job, route.outgoing
    attempt_note = f"Attempt {task.attempts}" + (" (may have been published before: looking first)"
                                                  if job.maybe_published else "")
    try:
        result = publisher.publish(job)
    except WaitUntil as wait:  # not sent (or only looked up): the batch waits, see publish_batch
        task.defer(wait.until, wait.reason, request=wait.request, counted=wait.counted)
        raise
    except PublishError as exc:
        if stats is not None and exc.request is not None:
            stats["calls"] = stats.get("calls", 0) + 1
        for line in [attempt_note, *exc.log]:
            task.add_log(line, save=False)
        if exc.permanent or task.attempts >= route.max_attempts:
            why = "permanent error" if exc.permanent else f"gave up after {task.attempts} attempts"
            task.fail(f"Failed ({why}): {exc.message}", error=exc.message, request=exc.request,
                      response=exc.response)
        else:
            delay = max(backoff_seconds(route, task.attempts), exc.retry_after or 0.0)  # the other side's Retry-After
            task.retry_later(timezone.now() + timedelta(seconds=delay), f"Will retry in {delay:.0f} s: {exc.message}",
                             error=exc.message, request=exc.request, response=exc.response)
        return task.status
    except (OperationalError, InterfaceError):
        # The database went away mid-task (a restart): nothing to record now. The task stays Processing, the
        # Celery task retries the batch, and the repair job takes the task back; its next attempt looks first.
        raise
    except Exception as exc:  # a bug, not the other side: record it on the task instead of looping in repair
        logger.exception("task %s: publishing failed unexpectedly", task.pk)
        message = f"Unexpected error while publishing: {type(exc).__name__}: {exc}"
        task.fail(message, error=message)
        return task.status
    if result.remember:
        SourceIdMap.remember(outgoing.pk, *result.remember)
        if prepared.targets is not None:  # a later task of this batch with the same source updates it
            prepared.targets[result.remember[0]] = result.remember[1]
    if result.forget:
        SourceIdMap.objects.filter(outgoing=outgoing, source_id=result.forget).delete()
        if prepared.targets is not None:
            prepared.targets.pop(result.forget, None)
    for line in [attempt_note, *result.log]:
        task.add_log(line, save=False)
    try:
        apply_deferred(prepared.deferred)
    except ServiceError as exc:  # published all the same; the next run will publish it again
        task.add_log(f"Could not remember its content hash: {exc}", "warning", save=False)
    task.finish("Published.", external_key=result.external_key or "", request=result.request,
                response=result.response, error="")
    if stats is not None:
        stats["calls"] = stats.get("calls", 0) + result.calls
    return task.status


def transform_again(task: Task, route: Route) -> bool:
    """Run the route's chain again on a task whose chain waited (a lookup whose system did not answer, or a
    record another route has not made yet); True when the task is ready to publish. A wait that outlasts the
    route's attempts fails the task, with the reason. A lookup whose quota is used up or whose system is down
    raises ``WaitUntil`` instead: the task (with its batch) is deferred without spending an attempt."""
    outcome = route_chain(route)(task.data)
    if outcome.error is not None:
        if outcome.retryable and task.attempts < route.max_attempts:
            delay = backoff_seconds(route, task.attempts)
            task.retry_later(timezone.now() + timedelta(seconds=delay),
                             f"Still waiting (attempt {task.attempts} of {route.max_attempts}), next try in "
                             f"{delay:.0f} s: {outcome.error}", error=outcome.error)
        else:
            why = f"gave up after {task.attempts} attempts" if outcome.retryable else "permanent error"
            task.fail(f"Transformer failed ({why}): {outcome.error}", error=outcome.error)
        return False
    if outcome.skipped_reason is not None:
        task.skip(outcome.skipped_reason, message=f"Skipped by a transformer: {outcome.skipped_reason}", claimed=True)
        return False
    entities = attach_deferred(outcome.entities, outcome.deferred)
    if len(entities) != 1:
        message = (f"The route's transformers made {len(entities)} entities of this task when they ran again; "
                   "a chain that waits on a lookup must make one entity per task (merge the branches back).")
        task.fail(message, error=message)
        return False
    task.transformed, task.retransform, task.error = entities[0], False, ""
    Task.objects.filter(pk=task.pk).update(transformed=task.transformed, retransform=False, error="")
    task.add_log("Transformed: the transformers' lookups answered now.", save=False)
    return True


def hold_for_maintenance(route_run: RouteRun, task_ids: list[int], resting: InMaintenance) -> int:
    """A maintenance window covers the route: its tasks wait in Retry until the window ends (the repair job
    queues them then), saying why; the wait costs no attempt."""
    held = 0
    reason = "In maintenance window" + (f" ({resting.window.reason})" if resting.window.reason else "")
    for task in Task.objects.claim(task_ids):
        if task.retry_later(resting.until, f"{resting.text}: waits until then.", attempts=task.attempts - 1,
                            wait_reason=reason[:300]):
            held += 1
    route_run.touch()
    route_run.wait(resting.until, reason)  # the route and task pages say why (connections.waits)
    return held


def _prepare_batch(publisher: Publisher, jobs: list[PublishJob]) -> int:
    """The publisher's batch look-up (``Publisher.prepare_batch``); the calls it made.

    A failed look-up costs nothing but its call: each job is then published as if it were alone.
    """
    try:
        return publisher.prepare_batch(jobs)
    except PublishError as exc:
        logger.warning("batch look-up failed, publishing task by task: %s", exc.message)
        for job in jobs:
            job.prepared.clear()
        return 1 if exc.request is not None else 0
    except Exception:
        logger.exception("batch look-up failed unexpectedly, publishing task by task")
        for job in jobs:
            job.prepared.clear()
        return 0


def publish_batch(route_run: RouteRun, task_ids: Iterable[int]) -> dict[str, int]:
    """Publish a batch of tasks of one run (what a worker's job does); returns how many ended in each status.

    Tasks that end in Retry are queued again with a countdown when their wait is short; longer waits stay
    in the database until the repair job queues them (see the module's docstring). When the publisher says
    to wait (``WaitUntil``), the rest of the batch is deferred with that task, unsent.
    """
    route = route_run.route
    outcome: dict[str, int] = {}
    stats: dict[str, int] = {}
    ids = list(task_ids)
    resting = route_window(route)
    if resting is not None:
        return {Task.Status.RETRY: hold_for_maintenance(route_run, ids, resting)}
    claimed = Task.objects.claim(ids)
    if len(claimed) < len(ids):
        outcome["not claimed"] = len(ids) - len(claimed)
    retrying: list[Task] = []
    targets = SourceIdMap.lookup_many(route.outgoing_id, (t.identifier or "" for t in claimed))
    ready: list[_Prepared] = []
    waits: list[tuple[WaitUntil, list[int]]] = []  # each wait and the tasks deferred with it
    for index, task in enumerate(claimed):
        try:
            prepared = _prepare(task, route, targets)
        except WaitUntil as exc:  # a lookup must wait (this task deferred in _prepare): so does the rest of the
            rest = claimed[index + 1:]  # batch, unprepared; the ones ready are published
            token = rest[0].claim_token if rest else None  # still the batch's claim: not renewed yet
            waits.append((exc, [task.pk, *Task.defer_claimed([t.pk for t in rest], token, exc.until, exc.reason)]))
            break
        if prepared is None:
            outcome[task.status] = outcome.get(task.status, 0) + 1
        else:
            ready.append(prepared)
    publisher = get_publisher(route.outgoing.publisher)
    if ready:
        stats["calls"] = _prepare_batch(publisher, [p.job for p in ready])
    for index, prepared in enumerate(ready):
        try:
            status = _publish_prepared(prepared, route, publisher, stats=stats) if prepared.task.renew_claim() else ""
        except WaitUntil as exc:
            rest = [p.task for p in ready[index + 1:]]
            token = rest[0].claim_token if rest else None  # still the batch's claim: not renewed yet
            waits.append((exc, [prepared.task.pk, *Task.defer_claimed([t.pk for t in rest], token, exc.until,
                                                                       exc.reason)]))
            break
        outcome[status or "not claimed"] = outcome.get(status or "not claimed", 0) + 1
        if status == Task.Status.RETRY:
            retrying.append(prepared.task)
    route_run.touch(api_calls=stats.get("calls", 0))
    now = timezone.now()
    for wait, deferred in waits:
        outcome["waiting"] = outcome.get("waiting", 0) + len(deferred)
        route_run.wait(wait.until, wait.reason)
        delay = (wait.until - now).total_seconds()
        if delay <= max_countdown():  # else the repair job queues them once due (queue_due_retries)
            queue_publishing(route_run.pk, deferred, batch_size=len(deferred), countdown=max(0.0, delay) + 0.05)
    soon = [t for t in retrying if t.next_attempt_at and (t.next_attempt_at - now).total_seconds() <= max_countdown()]
    if soon:
        wait_s = max(0.0, max((t.next_attempt_at - now).total_seconds() for t in soon if t.next_attempt_at))
        queue_publishing(route_run.pk, [t.pk for t in soon], batch_size=len(soon), countdown=wait_s + 0.5)
    route_run.finish_if_done()
    return outcome
