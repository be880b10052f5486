"""Step 1, read: stream pages from an Incoming's subscriber and turn every entity into a Task, page by page.

Plain functions: the Celery task (``connections.tasks``), the management command (``run_incoming``) and
a route run (``connections.flow.routing``) call the same :func:`execute_incoming_run`. Every page is
committed on its own (its tasks, the run's counters and the checkpoint holding the next URL), so a run
that fails or whose worker dies is continued by ``Run.resume()`` at the next page, with no row read twice
and none lost. A division whose subscriber says to wait (``connections.waits.WaitUntil``: its quota) is left
at its checkpoint while the other divisions are read; then the run goes back to Queued until the wait is
over (``Run.wait``) and its caller sends it again for then: the read goes on at the next page.

A route passes its transformer chain (``connections.flow.transform``) as the per-entity hook::

    def transform(entity: dict) -> list[dict] | Skip: ...

    execute_incoming_run(run_id, transform=transform)

``transform`` runs per entity read: each returned entity becomes a Task (``data`` = the entity as read,
``transformed`` = the returned one); ``Skip(reason)`` writes a Skipped task with that reason (so a user sees
why an entity went no further) and counts it as skipped; an
exception fails only that entity's Task (status Failed, with the message). Reading never stops early
because a transformer filtered entities out. A hook that also has ``begin_page(entities)`` and ``take_page()``
(the route's chain, ``routing.ChainTransform``) is told about each page before its entities (so its storage
steps look a page's keys up at once) and hands over what they stored, written inside the transaction saving the
page. Page N is saved in a thread of its own while page N+1 is transformed (``PageWriter``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing, suppress
from copy import deepcopy
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, cast

from django.db import reset_queries, transaction
from django.db.models import F
from django.utils import timezone

from connections.models import Incoming, IncomingCursor, Run, RunLogEntry, Task
from connections.storage_service import PageWrites
from connections.subscribers import Page, ReadError, RequestHook, ResumePoint, Subscriber
from connections.waits import WaitUntil, until_text
from lib.rows import insert_rows, new_rows

from .overlap import PageWriter, read_ahead

__all__ = ["RunLogHandler", "Skip", "TransformHook", "execute_incoming_run", "read_ahead", "request_hook_for",
           "subscriber_for", "tasks_for"]

logger = logging.getLogger(__name__)  # its lines (and a subscriber's, logging here) go into the run's log

# A running run whose heartbeat (written with every page) is older than this lost its worker: a redelivered
# task takes it over and continues at the next page. Longer than the HTTP layer's longest wait for a 429.
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Skip:
    """Returned by a transform hook: the entity goes no further; its task is Skipped with ``reason``."""

    reason: str = "skipped by a transformer"


TransformHook = Callable[[dict[str, Any]], "list[dict[str, Any]] | Skip"]
PageHook = Callable[[Run, Page], None]
QueueHook = Callable[[list[int]], None]


class RunLogHandler(logging.Handler):
    """Turns the reader logger's records into the run's log lines (style.md §18)."""

    def __init__(self, run: Run, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record) if self.formatter else record.getMessage()
            RunLogEntry.objects.create(run_id=self.run.pk, level=record.levelno, message=message[:4000])
        except Exception:  # logging must never break the run; the stdlib's own policy
            self.handleError(record)


def subscriber_for(incoming: Incoming) -> Subscriber:
    """The Incoming's subscriber, reading the Incoming (and its client) with their variables resolved now."""
    from configuration.variables import UnknownVariable, resolved

    cls = incoming.subscriber_class
    if cls is None:
        raise ReadError(f"No subscriber of kind {incoming.subscriber!r} is installed.", permanent=True)
    try:
        return cls(resolved(incoming))
    except UnknownVariable as exc:
        raise ReadError(f"{exc} (used by the Incoming or its HTTP client)", permanent=True) from None


def request_hook_for(incoming: Incoming) -> RequestHook | None:
    """The Incoming's request transformer as a hook over ``{"path", "query", "cursor"}``, or None."""
    transformer = incoming.transformer
    if transformer is None:
        return None
    from connections.transformers import Budget, TransformError

    from .transform import task_limits

    chain = transformer.compiled()
    limits = task_limits()

    def hook(request: dict[str, Any]) -> dict[str, Any]:
        try:
            result = chain.run(request, budget=Budget(limits))
        except TransformError as exc:
            raise ReadError(f"Request transformer {incoming.transformer}: {exc}", permanent=True) from exc
        if not result.entities or not isinstance(result.entities[0], dict):
            raise ReadError(f"Request transformer {incoming.transformer} left no request "
                            f"({result.skipped_reason or 'skipped'}).", permanent=True)
        return result.entities[0]

    return hook


def namer_for(run: Run) -> Callable[[dict[str, Any], str], dict[str, str]] | None:
    """How the run's tasks are named: by its route (which may override its Incoming's templates), else by the
    Incoming (a preview run of its own). The route is looked up once per run object (Django caches it); a run not
    saved yet has its route run attached or none (a webhook's tasks are built before either is saved)."""
    route_run = getattr(run, "route_run", None) if run.pk or Run.route_run.is_cached(run) else None
    if route_run is not None:
        return cast(Callable[[dict[str, Any], str], dict[str, str]], route_run.route.task_namer())
    return run.incoming.task_namer() if run.incoming else None


@cache
def _new_task() -> Callable[..., Task]:
    return new_rows(Task)


def tasks_for(run: Run, identify: Callable[[dict[str, Any]], str], page: Page, transform: TransformHook | None,
              ) -> tuple[list[Task], int, int]:
    """The tasks of one page (not saved yet), through ``transform`` when given: (tasks, skipped, failed).

    Inbound webhooks build their tasks with it too, as if their items had been read. A page-wise ``transform``
    is told the page by the caller (``begin_page`` before, ``take_page`` after).
    """
    tasks: list[Task] = []
    skipped = failed = 0
    now = timezone.now()
    namer = namer_for(run)
    new_task = _new_task()
    cache_run = Task.run.field.set_cached_value  # task.run is this run, as Task(run=run) would have it
    read_line = Task.log_line(f"Read from {page.endpoint}, page {page.number}")
    transformed_line = Task.log_line(f"Read from {page.endpoint}, page {page.number}; transformed")

    def add(**values: Any) -> None:
        task = new_task(**common, **values)
        cache_run(task, run)
        tasks.append(task)

    for entity in page.entities:
        identifier = identify(entity)[:255]
        common = {"run_id": run.pk, "incoming_id": run.incoming_id, "identifier": identifier,
                  "division": page.division, "data": entity, "created_at": now,
                  **(namer(entity, identifier) if namer else {})}
        if transform is None:
            add(log=[dict(read_line)])
            continue
        try:
            outcome = transform(entity)
        except WaitUntil as wait:
            if not wait.entity_only:  # the page waits as a whole (a lookup's quota): read again from the checkpoint
                raise
            tasks.append(Task(**common, retransform=True, error=wait.reason, log=[Task.log_line(
                f"Transformer will run again before publishing: {wait.reason}", "warning")]))
            continue
        except Exception as exc:  # one entity's transformer failure fails that entity only, and is recorded
            if getattr(exc, "retryable", False):  # e.g. a lookup's system is down: try again when publishing
                add(retransform=True, error=str(exc)[:4000], log=[Task.log_line(
                    f"Transformer will run again before publishing: {exc}", "warning")])
                continue
            failed += 1
            add(status=Task.Status.FAILED, error=str(exc)[:4000],
                log=[Task.log_line(f"Transformer failed: {exc}", "error")])
            continue
        if isinstance(outcome, Skip):
            skipped += 1
            add(status=Task.Status.SKIPPED, skip_reason=outcome.reason[:500],
                log=[Task.log_line(f"Skipped by a transformer: {outcome.reason}")])
            continue
        for item in outcome:
            add(transformed=item, log=[dict(transformed_line)])
    return tasks, skipped, failed


@dataclass
class _PreparedPage:
    """A page transformed into its tasks, with what its transaction writes: the run's checkpoint and summary as
    they are once it is saved, its counters, and what writes the chain's stores (``take_page``)."""

    page: Page
    key: str
    tasks: list[Task]
    counts: dict[str, int]
    checkpoint: dict[str, Any]
    summary: dict[str, Any]
    store: PageWrites | None  # what the chain's storage steps stored


def _prepare_page(run: Run, subscriber: Subscriber, page: Page, transform: TransformHook | None,
                  queue: QueueHook | None, after: _PreparedPage | None = None) -> _PreparedPage:
    """Transform ``page`` into its tasks (nothing written); ``after`` is the page before it when that one is
    not saved yet: the checkpoint and summary go on from it."""
    key = str(page.division if page.division is not None else 0)
    begin_page = getattr(transform, "begin_page", None)
    if begin_page is not None:
        begin_page(page.entities)
    tasks, skipped, failed = tasks_for(run, subscriber.identifier, page, transform)
    done = page.next_url is None
    checkpoint = dict(after.checkpoint if after is not None else run.checkpoint)
    checkpoint[key] = {"next_url": page.next_url, "page": page.number, "cursor": page.cursor, "done": done,
                       "endpoint": page.endpoint}
    summary = deepcopy(after.summary if after is not None else run.summary)
    division = summary.setdefault(key, {"endpoint": page.endpoint, "calls": 0, "records": 0, "dropped": 0})
    division["calls"] += page.api_calls
    division["records"] += len(page.entities)
    division["dropped"] = division.get("dropped", 0) + page.dropped
    division["endpoint"] = page.endpoint
    counts = {"pages": 1, "api_calls": page.api_calls, "entities_read": len(page.entities),
              "tasks_created": len(tasks), "tasks_skipped": skipped, "tasks_failed": failed}
    if queue is not None:  # saved as queued: no second write of every row to mark them
        queued_at = timezone.now()
        for task in tasks:
            if task.status == Task.Status.NEW:
                task.queued_at = queued_at
    take_page = getattr(transform, "take_page", None)
    return _PreparedPage(page, key, tasks, counts, checkpoint, summary, take_page() if take_page else None)


def _write_page(run: Run, subscriber: Subscriber, prepared: _PreparedPage, queue: QueueHook | None) -> None:
    """Save a prepared page in one transaction (on this thread's connection): its tasks, what the chain stored,
    the run's counters and checkpoint; the publish messages go once it commits."""
    try:
        _write_page_atomically(run, subscriber, prepared, queue)
    except BaseException:
        if prepared.store is not None:
            prepared.store.discard()  # not saved: the next page no longer reads its stores from memory
        raise


def _write_page_atomically(run: Run, subscriber: Subscriber, prepared: _PreparedPage, queue: QueueHook | None,
                           ) -> None:
    page, tasks = prepared.page, prepared.tasks
    with transaction.atomic():
        insert_rows(Task, tasks, batch_size=Task.BULK_BATCH)
        if prepared.store is not None:
            prepared.store()  # what the chain's storage steps stored: kept with the page's tasks, or not at all
        if queue is not None:
            queue([task.pk for task in tasks if task.queued_at is not None])
        Run.objects.filter(pk=run.pk).update(
            checkpoint=prepared.checkpoint, summary=prepared.summary, heartbeat_at=timezone.now(),
            **{name: F(name) + n for name, n in prepared.counts.items() if n},
        )
        if page.next_url is None and page.cursor and not run.dry_run:
            IncomingCursor.objects.update_or_create(
                incoming_id=subscriber.incoming.pk, division=int(prepared.key),
                defaults={"kind": page.cursor["kind"], "value": str(page.cursor["value"]),
                          "seen_keys": page.cursor.get("seen_keys") or [], "endpoint": page.cursor.get("endpoint", ""),
                          "run": run, "updated_at": timezone.now()},
            )


def _saved(run: Run, prepared: _PreparedPage) -> None:
    """The run as it is now that ``prepared`` is committed."""
    run.checkpoint, run.summary = prepared.checkpoint, prepared.summary
    for name, n in prepared.counts.items():
        setattr(run, name, getattr(run, name) + n)


def _save_page(run: Run, subscriber: Subscriber, page: Page, transform: TransformHook | None,
               queue: QueueHook | None = None) -> None:
    prepared = _prepare_page(run, subscriber, page, transform, queue)
    _write_page(run, subscriber, prepared, queue)
    _saved(run, prepared)


def _read_division(run: Run, subscriber: Subscriber, division: int | None, *, request_hook: RequestHook | None,
                   transform: TransformHook | None, on_page: PageHook | None, queue: QueueHook | None) -> None:
    key = str(division if division is not None else 0)
    state = run.checkpoint.get(key) or {}
    if state.get("done"):
        logger.info("Division %s: already read by an earlier attempt", key)
        return
    resume = None
    if state.get("next_url"):
        resume = ResumePoint(next_url=state["next_url"], page=int(state.get("page") or 0), cursor=state.get("cursor"))
    stored = IncomingCursor.objects.filter(incoming_id=subscriber.incoming.pk, division=int(key)).first()
    cursor = stored.as_dict() if stored else None
    records = 0
    pages = subscriber.read(division, resume=resume, cursor=cursor, request_hook=request_hook)

    def saved(prepared: _PreparedPage | None) -> None:
        nonlocal records
        if prepared is None:
            return
        _saved(run, prepared)
        page = prepared.page
        records += len(page.entities)
        logger.info("Division %s: page %d, %d records%s", key, page.number, len(page.entities),
                    f" ({page.dropped} already read at the cursor)" if page.dropped else "")
        if on_page is not None:
            on_page(run, page)

    # Page N is saved by the writer while page N+1 is fetched (read_ahead) and transformed here.
    writer: PageWriter[_PreparedPage] = PageWriter(lambda prepared: _write_page(run, subscriber, prepared, queue))
    with closing(read_ahead(pages)) as ahead, closing(writer):  # both threads end at once when reading stops
        try:
            for page in ahead:
                prepared = _prepare_page(run, subscriber, page, transform, queue, after=writer.saving)
                reset_queries()  # with DEBUG on, Django keeps every query's SQL: memory must stay flat per page
                saved(writer.wait())  # page N committed: its progress is told before page N+1 is handed over
                writer.put(prepared)
            saved(writer.wait())
        except BaseException:
            with suppress(Exception):  # the page being saved commits (or fails: this error is the one told)
                if (last := writer.wait()) is not None:
                    _saved(run, last)  # the run's checkpoint in memory is the committed one, for the next division
            raise
    if not run.checkpoint.get(key, {}).get("done"):
        # The subscriber ended without a page (nothing to read): the division is complete.
        run.checkpoint[key] = {**run.checkpoint.get(key, {}), "next_url": None, "done": True}
        run.save_checkpoint()
    logger.info("Division %s: done, %d records", key, records)


def execute_incoming_run(run_id: int, *, transform: TransformHook | None = None,
                         request_hook: RequestHook | None = None, on_page: PageHook | None = None,
                         queue: QueueHook | None = None) -> Run | None:
    """Claim the queued run ``run_id`` and read its Incoming; returns the run (None when it is gone).

    ``request_hook`` overrides the Incoming's own request transformer; ``on_page`` is called after each
    committed page (progress reporting, tests). ``queue`` is given the ids of each page's New tasks inside the
    transaction that saves them, already marked queued (``queued_at``): a route sends them for publishing
    once it commits (the database must return the ids of a bulk insert: PostgreSQL, SQLite 3.35+).
    """
    run = Run.objects.select_related("incoming", "incoming__http_client").filter(pk=run_id).first()
    if run is None or run.incoming is None:
        return run
    reclaimed = False
    if not run.start():
        reclaimed = run.status == Run.Status.READING and run.reclaim(stale_after=STALE_AFTER)
        if not reclaimed:
            logger.info("Run %s was not queued (status %s): not started twice", run.pk, run.status)
            return run
    handler = RunLogHandler(run)
    logger.addHandler(handler)
    previous_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        incoming = run.incoming
        subscriber = subscriber_for(incoming)
        hook = request_hook if request_hook is not None else request_hook_for(incoming)
        if run.resumed_from_id:
            logger.info("Resuming run %s from its checkpoint", run.resumed_from_id)
        if reclaimed:
            logger.warning("The worker of this run stopped reporting; continuing from its checkpoint")
        waits: list[WaitUntil] = []
        for division in subscriber.divisions():
            try:
                _read_division(run, subscriber, division, request_hook=hook, transform=transform, on_page=on_page,
                               queue=queue)
            except WaitUntil as wait:  # this division waits; the others are read meanwhile
                logger.info("Division %s: %s until %s; the run goes on from its checkpoint then", division,
                            wait.reason, until_text(wait.until))
                waits.append(wait)
        if waits:
            first = min(waits, key=lambda w: w.until)
            run.wait(first.until, first.reason)
            return run
        run.refresh_from_db()
        logger.info("Read %d records in %d calls (%s records per call)", run.entities_read, run.api_calls,
                    run.records_per_call)
        run.finish(Run.Status.SUCCEEDED)
    except ReadError as exc:
        logger.error("Run failed: %s", exc.message)
        run.finish(Run.Status.FAILED, exc.message)
    except Exception as exc:  # anything else is recorded on the run (with traceback in the log), never lost
        logger.exception("Run failed unexpectedly")
        run.finish(Run.Status.FAILED, f"{type(exc).__name__}: {exc}")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    run.refresh_from_db()
    return run
