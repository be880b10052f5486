"""Beat jobs of the alerts app: thin wrappers around ``alerts.engine``."""

from __future__ import annotations

from celery import shared_task

from .engine import evaluate, send_digest

__all__ = ["daily_digest", "evaluate_alerts"]


@shared_task(ignore_result=True)
def evaluate_alerts() -> dict[str, int]:
    return evaluate()


@shared_task(ignore_result=True)
def daily_digest() -> int:
    return send_digest()
