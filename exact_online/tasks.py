"""Celery tasks of Exact Online webhooks: thin wrappers that take ids."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from .models import ExactChange
from .webhooks import fetch_changes, release_stuck

__all__ = ["fetch_due_changes", "fetch_exact_changes"]


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=2, retry_jitter=True, max_retries=5,
             ignore_result=True)
def fetch_exact_changes(webhook_id: int) -> dict[str, int]:
    return fetch_changes(webhook_id)


@shared_task(ignore_result=True)
def fetch_due_changes() -> int:
    """Beat's safety net: changes whose scheduled fetch was lost (or whose worker died) are fetched now."""
    release_stuck()
    hooks = set(ExactChange.objects.filter(status=ExactChange.Status.PENDING, due_at__lte=timezone.now())
                .values_list("webhook_id", flat=True))
    for hook_id in hooks:
        if hook_id is not None:
            fetch_changes(hook_id)
    return len(hooks)
