"""Celery tasks of Incoming runs: thin wrappers that take ids and call ``connections.runner``.

Route tasks live in ``connections.route_tasks``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import shared_task
from django.db import transaction

from connections.models import Run
from connections.runner import execute_incoming_run

__all__ = ["enqueue_incoming_run", "run_incoming"]


@shared_task(acks_late=True, ignore_result=True)
def run_incoming(run_id: int) -> dict[str, Any]:
    """Execute a queued Incoming run; a run that is gone or already claimed is left alone."""
    run = execute_incoming_run(run_id)
    if run is None:
        return {"skipped": 1}
    return {"status": run.status, "entities_read": run.entities_read, "api_calls": run.api_calls}


def enqueue_incoming_run(run: Run) -> None:
    """Send the run to a worker once the transaction that created it has committed."""
    transaction.on_commit(partial(run_incoming.delay, run.pk))
