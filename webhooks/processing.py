"""Receiving and processing deliveries, as plain functions (the view, the Celery tasks and tests call these).

``accept`` runs in the web process and only checks and stores: unknown hook 404, disabled 410, too large
413, wrong content type 415, refused credentials 401/403 are counted and answered, nothing else is done.
An accepted request is stored (one INSERT, committed on its own) and answered 202 before any parsing; after
that commit the hook's ``drain_queued`` flag is read and, when down, raised, and only the request that raised
it queues a worker job, so a burst of 1,000 deliveries costs a handful of broker messages and flag writes,
not 1,000.

``drain`` runs on a worker: it lowers the flag, then takes the hook's Received deliveries in batches, each in
three steps, so that the database's write lock (SQLite has one writer for every process, and the endpoint's
INSERT waits for it) is held only for short writes: a short transaction claims the batch (Processing, with
the claim's time as its token); de-duplicating, parsing and running the routes' chains happen outside any
transaction (reads and lookups only); one short transaction writes the tasks and each delivery's outcome,
only while the batch still holds its claim. A worker killed in between wrote nothing: the sweep puts its
batch back to Received after ``WEBHOOK_STUCK_AFTER`` and it is processed as if for the first time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from configuration.variables import UnknownVariable, resolved

from .kinds import Prepared, Processed, WebhookKind, get_kind
from .models import Delivery, Rejection, Webhook
from .validators import Rejected

__all__ = ["BATCH", "Answer", "accept", "drain", "max_body_bytes", "process_deliveries", "process_delivery",
           "replay", "sweep"]

logger = logging.getLogger(__name__)
REDACTED = "[redacted]"
# Standard SQL quoting (SQLite and PostgreSQL); tests/webhooks/test_accept_path.py and test_processing.py run them
# on both.
_DRAIN_QUEUED_SQL = 'SELECT "drain_queued" FROM "webhooks_webhook" WHERE "id" = %s'
_FINISH_SQL = ('UPDATE "webhooks_delivery" SET "status" = %s, "processed_at" = %s, "processing_since" = NULL, '
               '"items" = %s, "tasks_created" = %s, "task_ids" = %s, "route_runs" = %s, "duplicate_of_id" = %s, '
               '"error" = %s, "attempts" = "attempts" + 1 WHERE "id" = %s')
BATCH = 25  # short transactions: SQLite has one writer, and the endpoint must not wait long for it


@dataclass
class Answer:
    """The response to a hook request: a status and a short JSON-able body (never a secret)."""

    status: int
    body: dict[str, Any]
    delivery: Delivery | None = None


def max_body_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024))


def request_drain(webhook_id: int) -> None:
    """Make sure one worker job will process the hook's Received deliveries, once what the caller wrote (a
    delivery Received) is committed: at once outside a transaction, else on commit.

    Raising the flag only after the delivery is committed is what makes a raised flag enough: the job it
    stands for lowers it when it starts and only then looks for Received deliveries, so it finds every
    delivery committed before the flag was seen raised (on PostgreSQL too, where an UPDATE inside the
    storing transaction could see the flag raised, and the job lower it and look, before that commit).
    Robust: what was stored stays stored and is answered as such when the flag or the broker fails; the sweep
    queues a job for deliveries left Received.
    """
    transaction.on_commit(partial(_raise_drain_flag, webhook_id))


def _raise_drain_flag(webhook_id: int) -> None:
    try:
        _raise_drain_flag_or_fail(webhook_id)
    except Exception:
        logger.exception("webhook %s: could not queue a drain job; the sweep queues one for what waits", webhook_id)


def _raise_drain_flag_or_fail(webhook_id: int) -> None:
    from .tasks import drain_webhook

    # Read first: while a job is queued (the flag raised: all but the first delivery of a burst) this costs
    # no write, so no wait for the database's write lock (SQLite's single writer) and no row lock. Plain SQL:
    # it runs on every accepted request, and building the query through the ORM cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(_DRAIN_QUEUED_SQL, [webhook_id])
        row = cursor.fetchone()
    if row is None or row[0]:
        return
    if not Webhook.objects.filter(pk=webhook_id, drain_queued=False).update(drain_queued=True):
        return
    try:
        drain_webhook.delay(webhook_id)
    except Exception:
        Webhook.objects.filter(pk=webhook_id).update(drain_queued=False)  # the next delivery tries again
        raise


def _refuse(webhook_id: int | None, status: int, reason: str) -> Answer:
    Rejection.count_one(webhook_id, status, reason)
    return Answer(status, {"error": reason})


def accept(token: str, *, read_body: Callable[[int], bytes], content_length: int | None,
           headers: Mapping[str, str], remote_addr: str, is_test: bool = False) -> Answer:
    """Check a request to ``/hooks/<token>/`` and store it; ``read_body(n)`` reads at most ``n`` bytes."""
    webhook = Webhook.objects.filter(token=token).only(
        "pk", "enabled", "kind", "parser", "parser_config", "validation", "secrets", "dedup_header", "config").first()
    if webhook is None:
        return _refuse(None, 404, "unknown hook")
    if not webhook.enabled:
        return _refuse(webhook.pk, 410, "hook disabled")
    handler = get_kind(webhook.kind)
    if handler is None:
        return _refuse(webhook.pk, 410, f"no handler for kind {webhook.kind} is installed")
    try:
        webhook = resolved(webhook)  # its checks with their ${NAME} variables as they are now
    except UnknownVariable as exc:
        logger.error("webhook %s: %s", webhook.pk, exc)
        return _refuse(webhook.pk, 503, "hook misconfigured: an environment variable it uses is not defined")
    limit = max_body_bytes()
    if content_length is not None and content_length > limit:
        return _refuse(webhook.pk, 413, f"body of {content_length} bytes is over the limit of {limit}")
    body = read_body(limit + 1)
    if len(body) > limit:
        return _refuse(webhook.pk, 413, f"body is over the limit of {limit} bytes")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    try:
        if handler.is_ping(webhook, body):
            handler.verify(webhook, headers, body, remote_addr)
            return Answer(200, {"ok": True})
        handler.check_content_type(webhook, content_type, body)
        handler.verify(webhook, headers, body, remote_addr)
    except Rejected as refused:
        return _refuse(webhook.pk, refused.status, refused.reason)
    return _store(webhook, handler, body, content_type, headers, remote_addr, is_test=is_test)


def _store(webhook: Webhook, handler: WebhookKind, body: bytes, content_type: str, headers: Mapping[str, str],
           remote_addr: str, *, is_test: bool) -> Answer:
    secret_headers = handler.redacted_headers(webhook)
    kept = {k: (REDACTED if k.lower() in secret_headers else v[:500]) for k, v in headers.items()}
    body_hash = hashlib.sha256(body).hexdigest()
    # One INSERT, committed on its own (autocommit): stored and durable before the answer, and the write
    # lock (SQLite has one writer for every process) is held for that one statement only, never while this
    # thread waits for the GIL or the CPU. The drain flag is raised afterwards (request_drain).
    delivery = Delivery.objects.create(
        webhook=webhook, body=body, content_type=content_type[:200], headers=kept, remote_addr=remote_addr[:64],
        size=len(body), body_hash=body_hash, dedup_key=handler.dedup_key(webhook, headers, body_hash),
        is_test=is_test)
    request_drain(webhook.pk)
    return Answer(handler.accepted_status, {"delivery": delivery.pk, "status": "received"}, delivery)


# --- on the workers ---------------------------------------------------------------------------------


def drain(webhook_id: int, *, batch: int = BATCH) -> dict[str, int]:
    """Process every Received delivery of the hook, ``batch`` at a time; returns the count per outcome."""
    Webhook.objects.filter(pk=webhook_id).update(drain_queued=False)  # later arrivals queue a new drain
    totals: Counter[str] = Counter()
    while True:
        claimed = _claim(Delivery.objects.filter(webhook_id=webhook_id), limit=batch)
        if not claimed:
            return dict(totals)
        totals.update(_process_claimed(claimed).values())


def process_delivery(delivery_id: int) -> str:
    """Process one Received delivery; returns its new status ('' when it was not Received any more)."""
    return process_deliveries([delivery_id]).get(delivery_id, "")


def process_deliveries(delivery_ids: list[int]) -> dict[int, str]:
    """Claim the Received ones among ``delivery_ids`` (of one hook) and process them (see the module).

    Returns the new status per claimed delivery.
    """
    claimed = _claim(Delivery.objects.filter(pk__in=delivery_ids))
    return _process_claimed(claimed) if claimed else {}


def _claim(deliveries: QuerySet[Delivery], *, limit: int | None = None) -> list[Delivery]:
    """Mark the Received ones among ``deliveries`` (the first ``limit``) Processing in a short transaction of
    its own and return them.

    ``processing_since`` (the same for the batch) is the claim's token: the writes that end the processing
    happen only while the deliveries still hold it (``_write``), so a batch the sweep released to another
    worker in the meantime is written once, by that worker.
    """
    now = timezone.now()
    with transaction.atomic():
        received = deliveries.filter(status=Delivery.Status.RECEIVED).order_by("pk").values_list("pk", flat=True)
        chosen = list(received.select_for_update(skip_locked=True)[:limit] if limit else received)
        if not chosen:
            return []
        Delivery.objects.filter(pk__in=chosen, status=Delivery.Status.RECEIVED).update(
            status=Delivery.Status.PROCESSING, processing_since=now)
    return list(Delivery.objects.filter(pk__in=chosen, status=Delivery.Status.PROCESSING, processing_since=now)
                .select_related("webhook").order_by("pk"))


def _process_claimed(deliveries: list[Delivery]) -> dict[int, str]:
    """Work out what the claimed deliveries make, outside any transaction, then write it all in a short one.

    A bug while processing the batch is retried one delivery at a time, so that one bad delivery fails alone,
    with its error kept for a replay.
    """
    handler = get_kind(deliveries[0].webhook.kind)
    if handler is None:
        note = f"No handler for webhooks of kind {deliveries[0].webhook.kind!r} is installed."
        return _write(deliveries, Prepared({d.pk: Processed(status="failed", note=note) for d in deliveries}))
    try:
        return _write(deliveries, handler.prepare(deliveries))
    except OperationalError:  # the database is busy or gone: nothing was written; the task retries the batch
        _release(deliveries)
        raise
    except Exception as exc:  # a bug or a broken configuration: find the delivery it belongs to, keep the error
        if len(deliveries) > 1:
            result: dict[int, str] = {}
            for delivery in deliveries:
                result.update(_process_claimed([delivery]))
            return result
        logger.exception("webhook delivery %s: processing failed", deliveries[0].pk)
        return _write(deliveries, Prepared({deliveries[0].pk: Processed(
            status="failed", note=f"{type(exc).__name__}: {exc}")}))


def _release(deliveries: list[Delivery]) -> None:
    """Put claimed deliveries back to Received (if the database answers; else the sweep does it later)."""
    try:
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries], status=Delivery.Status.PROCESSING,
                                processing_since=deliveries[0].processing_since).update(
            status=Delivery.Status.RECEIVED, processing_since=None)
    except DatabaseError:
        logger.exception("webhook deliveries: could not release a claim; the sweep does")


def _write(deliveries: list[Delivery], prepared: Prepared) -> dict[int, str]:
    """Save what processing made (tasks, pending changes) and each delivery's outcome in one short transaction,
    if the deliveries are still claimed by this call (else nothing: whoever claimed them since writes)."""
    since = deliveries[0].processing_since
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        held = Delivery.objects.select_for_update().filter(pk__in=ids, status=Delivery.Status.PROCESSING,
                                                           processing_since=since)
        if len(held.values_list("pk", flat=True)) != len(ids):
            logger.warning("webhook deliveries %s were released while being processed: left to their new claim", ids)
            return {}
        outcomes = {**prepared.outcomes, **(prepared.write() if prepared.write is not None else {})}
        ended = [(d.pk, outcomes.get(d.pk, Processed(status="failed", note="Not processed by its handler.")))
                 for d in deliveries]
        _finish(ended)
    return {pk: outcome.status for pk, outcome in ended}


def _finish(ended: list[tuple[int, Processed]]) -> None:
    """Record each delivery's outcome: one statement run per delivery (plain SQL: built once, not per row)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.executemany(_FINISH_SQL, [
            (outcome.status, now, outcome.items, outcome.tasks_created, json.dumps(outcome.task_ids),
             json.dumps(outcome.route_runs), outcome.duplicate_of, outcome.note, pk) for pk, outcome in ended])


def replay(delivery: Delivery) -> bool:
    """Process a finished delivery again (after fixing the hook's configuration); True when queued."""
    with transaction.atomic():
        queued = Delivery.objects.filter(pk=delivery.pk, status__in=(
            Delivery.Status.FAILED, Delivery.Status.PROCESSED, Delivery.Status.DUPLICATE)).update(
            status=Delivery.Status.RECEIVED, error="", duplicate_of=None, items=0, tasks_created=0, task_ids=[],
            route_runs=[])
        if queued:
            request_drain(delivery.webhook_id)
    return bool(queued)


def sweep(*, older_than: timedelta | None = None, stuck_after: timedelta | None = None) -> int:
    """Queue a drain for hooks with deliveries Received for longer than ``older_than`` (their job was lost:
    broker, killed worker), after putting back to Received those Processing for longer than ``stuck_after``
    (their worker died between its claim and its write, so they wrote nothing); returns how many wait."""
    older_than = older_than if older_than is not None else timedelta(
        seconds=int(getattr(settings, "WEBHOOK_REQUEUE_AFTER", 60)))
    stuck_after = stuck_after if stuck_after is not None else timedelta(
        seconds=int(getattr(settings, "WEBHOOK_STUCK_AFTER", 300)))
    now = timezone.now()
    released = Delivery.objects.filter(status=Delivery.Status.PROCESSING, processing_since__lt=now - stuck_after)
    hook_ids = set(released.values_list("webhook_id", flat=True).distinct())
    released.update(status=Delivery.Status.RECEIVED, processing_since=None)
    stale = Delivery.objects.filter(status=Delivery.Status.RECEIVED, received_at__lt=now - older_than)
    hook_ids.update(stale.values_list("webhook_id", flat=True).distinct())
    with transaction.atomic():
        Webhook.objects.filter(pk__in=hook_ids).update(drain_queued=False)
        for hook_id in sorted(hook_ids):
            request_drain(hook_id)
    return stale.count()
