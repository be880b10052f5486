"""The Celery tasks of connections: thin wrappers that take ids and call the flow's plain functions.

Reading an Incoming is ``connections.flow.read``; a route run is ``connections.flow.routing`` (which
reads, transforms and publishes). Acknowledged late (a worker killed mid-batch leaves the message to be
redelivered where the broker can); rows that are gone are skipped quietly; only named transient errors
(the database being busy) are retried. Per-entity retries are not Celery retries: they are the Task
model's own Retry status with a ``next_attempt_at`` from the route's retry policy.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from alerts.maintenance import route_window

from . import overview
from .flow import bulk, publish, routing
from .flow.queue import send_after_commit, send_when_due
from .flow.read import execute_incoming_run
from .models import Route, RouteRun, Run, TriggerSource

__all__ = [
    "enqueue_incoming_run",
    "prune_tasks",
    "publish_route_batch",
    "read_route",
    "repair_tasks",
    "run_bulk_retry",
    "run_incoming",
    "run_scheduled_route",
    "warm_task_chart",
]

# The database busy, restarting or gone for a moment (a connection closed under us): the message is retried.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(acks_late=True, ignore_result=True)
def run_incoming(run_id: int) -> dict[str, Any]:
    """Execute a queued Incoming run; a run that is gone or already claimed is left alone."""
    run = execute_incoming_run(run_id)
    if run is None:
        return {"skipped": 1}
    if run.status == Run.Status.QUEUED and run.waiting_until:  # its quota: read on from the checkpoint then
        send_when_due("run_incoming", run.pk, until=run.waiting_until)
    return {"status": run.status, "entities_read": run.entities_read, "api_calls": run.api_calls}


def enqueue_incoming_run(run: Run) -> None:
    """Send the run to a worker once the transaction that created it has committed."""
    send_after_commit("run_incoming", run.pk)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_jitter=True, max_retries=5,
             ignore_result=True)
def read_route(route_run_id: int) -> None:
    found = RouteRun.objects.filter(pk=route_run_id).select_related("route", "run").first()
    if found is not None:
        routing.read_route_run(found)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=2, retry_jitter=True, max_retries=8,
             ignore_result=True)
def publish_route_batch(route_run_id: int, task_ids: list[int]) -> dict[str, int]:
    found = RouteRun.objects.filter(pk=route_run_id).select_related("route__outgoing__http_client").first()
    if found is None:
        return {"skipped": len(task_ids)}
    return publish.publish_batch(found, task_ids)


@shared_task(ignore_result=True)
def run_scheduled_route(route_id: int) -> dict[str, Any]:
    """Fired by the route's PeriodicTask (django-celery-beat); a still-active run makes it a no-op."""
    route = Route.objects.filter(pk=route_id).select_related("incoming", "outgoing").first()
    if route is None or not route.enabled:
        return {"started": False}
    resting = route_window(route)
    if resting is not None:  # a maintenance window: this fire starts nothing, and says why on the route's page
        route.record_skipped_fire(resting.text)
        return {"started": False, "reason": resting.text}
    try:
        started = routing.start_route_run(route, trigger=TriggerSource.SCHEDULED)
    except routing.RouteBusy as busy:
        if route.enabled:
            route.record_skipped_fire(f"still running: {busy}")
        return {"started": False, "reason": str(busy)}
    return {"started": True, "route_run": started.pk}


@shared_task(ignore_result=True)
def repair_tasks() -> dict[str, int]:
    return routing.repair()


@shared_task(ignore_result=True)
def warm_task_chart() -> int:
    return overview.warm_task_chart()


@shared_task(ignore_result=True)
def prune_tasks() -> int:
    return routing.prune_old_tasks()


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_jitter=True, max_retries=5,
             ignore_result=True)
def run_bulk_retry(job_id: int) -> None:
    """A user's "Retry all matching", in chunks (``flow/bulk.py``); a redelivered job resumes where it was."""
    bulk.run_bulk_retry(job_id)
