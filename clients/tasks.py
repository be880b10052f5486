"""Scheduled upkeep of HTTP clients: keep idle grants alive, prune old logs (thin tasks, logic below)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from configuration.variables import resolved

from .models import AuthEvent, HttpClient, RequestLog
from .registry import get_client_type

__all__ = ["keep_alive", "keep_alive_idle_grants", "prune_logs", "prune_old_logs"]

log = logging.getLogger(__name__)


def keep_alive_idle_grants(*, idle_days: float | None = None) -> dict[str, int]:
    """Refresh every granted client whose refresh token was not used for ``idle_days`` (Exact's expire after 30)."""
    days = settings.CLIENTS_KEEPALIVE_IDLE_DAYS if idle_days is None else idle_days
    cutoff = timezone.now() - timedelta(days=days)
    due = HttpClient.objects.usable().filter(
        Q(grant__refresh_used_at__lt=cutoff) | Q(grant__refresh_used_at__isnull=True, grant__granted_at__lt=cutoff)
    )
    counts = {"refreshed": 0, "failed": 0}
    for client in due:
        try:
            get_client_type(client.kind).keep_alive(resolved(client))
            counts["refreshed"] += 1
        except Exception as exc:  # one client failing must not stop the others; logged and recorded
            counts["failed"] += 1
            log.exception("keep-alive of client %s failed", client.pk)
            AuthEvent.record(client, AuthEvent.Event.REFRESH_FAILED, f"Keep-alive refresh failed: {exc}")
    return counts


def prune_old_logs(*, days: int | None = None) -> dict[str, int]:
    """Delete auth events and request logs older than the retention (``DASH_LOG_RETENTION_DAYS``)."""
    retention = settings.CLIENTS_LOG_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=retention)
    requests_deleted, _ = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    events_deleted, _ = AuthEvent.objects.filter(created_at__lt=cutoff).delete()
    return {"request_logs": requests_deleted, "auth_events": events_deleted}


@shared_task(ignore_result=True)
def keep_alive() -> dict[str, int]:
    return keep_alive_idle_grants()


@shared_task(ignore_result=True)
def prune_logs() -> dict[str, int]:
    return prune_old_logs()
