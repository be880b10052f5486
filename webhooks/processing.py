"""Receiving and processing deliveries, as plain functions (the view, the Celery tasks and tests call these).

``accept`` runs in the web process and only checks and stores: unknown hook 404, disabled 410, too large
413, wrong content type 415, refused credentials 401/403 are counted and answered, nothing else is done.
An accepted request is stored (one INSERT, committed on its own) and answered 202 before any parsing; after
that commit the hook's ``drain_queued`` flag is read and, when down, raised, and only the request that raised
it queues a worker job, so a burst of 1,000 deliveries costs a handful of broker messages and flag writes,
not 1,000.

``drain`` runs on a worker: it lowers the flag, then claims the hook's Received deliveries in batches and
processes each batch in one transaction (de-duplicate, parse, feed the routes, record the outcome), so
that a worker killed half-way leaves its batch Received for the next drain or the sweep.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from configuration.variables import UnknownVariable, resolved

from .kinds import Processed, WebhookKind, get_kind
from .models import Delivery, Rejection, Webhook
from .validators import Rejected

__all__ = ["BATCH", "Answer", "accept", "drain", "max_body_bytes", "process_deliveries", "process_delivery",
           "replay", "sweep"]

logger = logging.getLogger(__name__)
REDACTED = "[redacted]"
# Standard SQL quoting (SQLite and PostgreSQL); tests/webhooks/test_accept_path.py runs it on both.
_DRAIN_QUEUED_SQL = 'SELECT "drain_queued" FROM "webhooks_webhook" WHERE "id" = %s'
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
        with transaction.atomic():
            ids = list(Delivery.objects.select_for_update(skip_locked=True)
                       .filter(webhook_id=webhook_id, status=Delivery.Status.RECEIVED)
                       .order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return dict(totals)
            totals.update(process_deliveries(ids).values())


def process_delivery(delivery_id: int) -> str:
    """Process one Received delivery; returns its new status ('' when it was not Received any more)."""
    with transaction.atomic():
        return process_deliveries([delivery_id]).get(delivery_id, "")


def process_deliveries(delivery_ids: list[int]) -> dict[int, str]:
    """Claim the Received ones among ``delivery_ids`` (of one hook) and process them; call inside a transaction.

    Returns the new status per claimed delivery. A bug while processing the batch is retried one delivery
    at a time, so that one bad delivery fails alone, with its error kept for a replay.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.RECEIVED)
    ids = list(claimed.values_list("pk", flat=True))
    if not ids:
        return {}
    Delivery.objects.filter(pk__in=ids, status=Delivery.Status.RECEIVED).update(
        status=Delivery.Status.PROCESSING, processing_since=now, attempts=F("attempts") + 1)
    deliveries = list(Delivery.objects.filter(pk__in=ids).select_related("webhook").order_by("pk"))
    handler = get_kind(deliveries[0].webhook.kind)
    if handler is None:
        note = f"No handler for webhooks of kind {deliveries[0].webhook.kind!r} is installed."
        return {d.pk: _finish(d, Processed(status="failed", note=note)) for d in deliveries}
    try:
        with transaction.atomic():
            outcomes = handler.process(deliveries)
    except Exception as exc:  # a bug or a broken configuration: find the delivery it belongs to, keep the error
        if len(deliveries) == 1:
            logger.exception("webhook delivery %s: processing failed", deliveries[0].pk)
            return {deliveries[0].pk: _finish(deliveries[0], Processed(
                status="failed", note=f"{type(exc).__name__}: {exc}"))}
        Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.RECEIVED,
                                                   attempts=F("attempts") - 1)
        result: dict[int, str] = {}
        for delivery in deliveries:
            result.update(process_deliveries([delivery.pk]))
        return result
    return {d.pk: _finish(d, outcomes.get(d.pk, Processed(status="failed", note="Not processed by its handler.")))
            for d in deliveries}


def _finish(delivery: Delivery, outcome: Processed) -> str:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PROCESSING).update(
        status=outcome.status, processed_at=timezone.now(), processing_since=None, items=outcome.items,
        tasks_created=outcome.tasks_created, task_ids=outcome.task_ids, route_runs=outcome.route_runs,
        duplicate_of_id=outcome.duplicate_of, error=outcome.note)
    return outcome.status


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


def sweep(*, older_than: timedelta | None = None) -> int:
    """Queue a drain for hooks with deliveries Received for too long (their job was lost: broker, killed worker)."""
    older_than = older_than if older_than is not None else timedelta(
        seconds=int(getattr(settings, "WEBHOOK_REQUEUE_AFTER", 60)))
    cutoff = timezone.now() - older_than
    stale = Delivery.objects.filter(status=Delivery.Status.RECEIVED, received_at__lt=cutoff)
    hook_ids = list(stale.values_list("webhook_id", flat=True).distinct())
    with transaction.atomic():
        Webhook.objects.filter(pk__in=hook_ids).update(drain_queued=False)
        for hook_id in hook_ids:
            request_drain(hook_id)
    return stale.count()
