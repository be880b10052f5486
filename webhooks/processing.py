"""Receiving and processing deliveries, as plain functions (the view, the Celery tasks and tests call these).

``accept`` runs in the web process and only checks and stores: unknown hook 404, disabled 410, too large
413, wrong content type 415, refused credentials 401/403 are counted and answered, nothing else is done;
an accepted request is stored and queued (after commit) and answered 202 before any parsing.
``process_delivery`` runs on a worker: claim, de-duplicate, parse, feed the routes, record the outcome,
all in one transaction, so that a worker killed half-way leaves the delivery Received for the sweep.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .feed import NothingToFeed
from .kinds import WebhookKind, get_kind
from .models import Delivery, Rejection, Webhook
from .parsers import ParseError
from .validators import Rejected

__all__ = ["Answer", "accept", "max_body_bytes", "process_delivery", "replay", "sweep"]

logger = logging.getLogger(__name__)
REDACTED = "[redacted]"


@dataclass
class Answer:
    """The response to a hook request: a status and a short JSON-able body (never a secret)."""

    status: int
    body: dict[str, Any]
    delivery: Delivery | None = None


def max_body_bytes() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024))


def _enqueue(delivery_id: int) -> None:
    from .tasks import process_webhook_delivery

    transaction.on_commit(partial(process_webhook_delivery.delay, delivery_id))


def _refuse(webhook_id: int | None, status: int, reason: str) -> Answer:
    Rejection.count_one(webhook_id, status, reason)
    return Answer(status, {"error": reason})


def accept(token: str, *, read_body: Callable[[int], bytes], content_length: int | None,
           headers: Mapping[str, str], remote_addr: str, is_test: bool = False) -> Answer:
    """Check a request to ``/hooks/<token>/`` and store it; ``read_body(n)`` reads at most ``n`` bytes."""
    webhook = Webhook.objects.filter(token=token).only(
        "pk", "enabled", "kind", "parser", "validation", "secrets", "dedup_header").first()
    if webhook is None:
        return _refuse(None, 404, "unknown hook")
    if not webhook.enabled:
        return _refuse(webhook.pk, 410, "hook disabled")
    handler = get_kind(webhook.kind)
    if handler is None:
        return _refuse(webhook.pk, 410, f"no handler for kind {webhook.kind} is installed")
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
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=webhook, body=body, content_type=content_type[:200], headers=kept, remote_addr=remote_addr[:64],
            size=len(body), body_hash=body_hash, dedup_key=handler.dedup_key(webhook, headers, body_hash),
            is_test=is_test)
        _enqueue(delivery.pk)
    return Answer(handler.accepted_status, {"delivery": delivery.pk, "status": "received"}, delivery)


# --- on the workers ---------------------------------------------------------------------------------


def process_delivery(delivery_id: int) -> str:
    """Process one Received delivery; returns its new status ('' when it was not Received any more)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.RECEIVED).update(
            status=Delivery.Status.PROCESSING, processing_since=now, attempts=F("attempts") + 1)
        if not claimed:
            return ""
        delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
        original = delivery.older_duplicate() if delivery.attempts == 1 else None
        if original is not None:
            _finish(delivery, Delivery.Status.DUPLICATE, duplicate_of=original,
                    error=f"Same {'delivery id' if delivery.dedup_key.startswith('id:') else 'body'} as delivery "
                          f"{original.pk}: no tasks created.")
            return Delivery.Status.DUPLICATE
        handler = get_kind(delivery.webhook.kind)
        try:
            if handler is None:
                raise ParseError(f"No handler for webhooks of kind {delivery.webhook.kind!r} is installed.")
            with transaction.atomic():  # a failure undoes this attempt's tasks, not the claim and its error
                outcome = handler.process(delivery)
        except (ParseError, NothingToFeed) as exc:
            _finish(delivery, Delivery.Status.FAILED, error=str(exc))
            return Delivery.Status.FAILED
        except Exception as exc:  # a bug or a broken configuration: kept with its error, replayable
            logger.exception("webhook delivery %s: processing failed", delivery_id)
            _finish(delivery, Delivery.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
            return Delivery.Status.FAILED
        _finish(delivery, Delivery.Status.PROCESSED, items=outcome.items, tasks_created=outcome.tasks_created,
                route_runs=outcome.route_runs, error=outcome.note)
        return Delivery.Status.PROCESSED


def _finish(delivery: Delivery, status: str, **fields: Any) -> None:
    fields.setdefault("error", "")
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PROCESSING).update(
        status=status, processed_at=timezone.now(), processing_since=None, **fields)


def replay(delivery: Delivery) -> bool:
    """Process a finished delivery again (after fixing the hook's configuration); True when queued."""
    with transaction.atomic():
        queued = Delivery.objects.filter(pk=delivery.pk, status__in=(
            Delivery.Status.FAILED, Delivery.Status.PROCESSED, Delivery.Status.DUPLICATE)).update(
            status=Delivery.Status.RECEIVED, error="", duplicate_of=None, items=0, tasks_created=0)
        if queued:
            _enqueue(delivery.pk)
    return bool(queued)


def sweep(*, older_than: timedelta | None = None) -> int:
    """Queue again the deliveries whose message was lost (broker down, worker killed): Received for too long."""
    older_than = older_than if older_than is not None else timedelta(
        seconds=int(getattr(settings, "WEBHOOK_REQUEUE_AFTER", 60)))
    cutoff = timezone.now() - older_than
    ids = list(Delivery.objects.filter(status=Delivery.Status.RECEIVED, received_at__lt=cutoff)
               .order_by("pk").values_list("pk", flat=True)[:5000])
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)
