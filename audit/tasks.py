"""Scheduled upkeep of the audit trail (a thin task; the logic is ``prune_audit_trail``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import TRACKED, AuditEntry

__all__ = ["prune_audit", "prune_audit_trail"]


def prune_audit_trail(*, days: int | None = None) -> dict[str, int]:
    """Delete audit entries and versions older than ``days`` (``DASH_AUDIT_RETENTION_DAYS``; 0 keeps all).

    The newest version of every object stays, however old: it is what the next change is compared with
    and what a restore starts from.
    """
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if days <= 0:
        return {"entries": 0, "versions": 0}
    cutoff = timezone.now() - timedelta(days=days)
    entries, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    versions = 0
    for model in TRACKED:
        history = model.history.model  # type: ignore[attr-defined]
        newer = history.objects.filter(id=OuterRef("id"), history_id__gt=OuterRef("history_id"))
        deleted, _ = history.objects.filter(history_date__lt=cutoff).filter(Exists(newer)).delete()
        versions += deleted
    return {"entries": entries, "versions": versions}


@shared_task
def prune_audit() -> dict[str, int]:
    return prune_audit_trail()
