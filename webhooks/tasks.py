"""Celery tasks of webhooks: thin wrappers over ``webhooks.processing`` that take ids."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from . import processing
from .models import Delivery

__all__ = ["drain_webhook", "prune_deliveries", "sweep_deliveries"]


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=2, retry_jitter=True, max_retries=8,
             ignore_result=True)
def drain_webhook(webhook_id: int) -> dict[str, int]:
    """Process the hook's Received deliveries (queued by the first delivery that found none queued)."""
    return processing.drain(webhook_id)


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    return processing.sweep()


@shared_task(ignore_result=True)
def prune_deliveries() -> int:
    cutoff = timezone.now() - timedelta(days=int(getattr(settings, "WEBHOOK_RETENTION_DAYS", 30)))
    return Delivery.objects.filter(received_at__lt=cutoff).exclude(
        status__in=(Delivery.Status.RECEIVED, Delivery.Status.PROCESSING)).delete()[0]
