"""Celery tasks of routes: thin wrappers that take ids and call ``connections.routing``.

Acknowledged late (a worker killed mid-batch leaves the message to be redelivered where the broker
can); tasks that are gone are skipped quietly; only named transient errors (the database being busy)
are retried. Per-entity retries are not Celery retries: they are the Task's own Retry status with a
``next_attempt_at`` from the route's retry policy.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from . import routing
from .models import Route, RouteRun

__all__ = ["prune_tasks", "publish_route_batch", "read_route", "repair_tasks", "run_scheduled_route"]

TRANSIENT = (OperationalError,)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=5, retry_jitter=True, max_retries=5,
             ignore_result=True)
def read_route(route_run_id: int) -> None:
    route_run = RouteRun.objects.filter(pk=route_run_id).select_related("route", "run").first()
    if route_run is not None:
        routing.read_route_run(route_run)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=2, retry_jitter=True, max_retries=8,
             ignore_result=True)
def publish_route_batch(route_run_id: int, task_ids: list[int]) -> dict[str, int]:
    route_run = RouteRun.objects.filter(pk=route_run_id).select_related("route__outgoing__http_client").first()
    if route_run is None:
        return {"skipped": len(task_ids)}
    return routing.publish_batch(route_run, task_ids)


@shared_task(ignore_result=True)
def run_scheduled_route(route_id: int) -> dict[str, Any]:
    """Fired by the route's PeriodicTask (django-celery-beat); a still-active run makes it a no-op."""
    route = Route.objects.filter(pk=route_id).select_related("incoming", "outgoing").first()
    if route is None or not route.enabled:
        return {"started": False}
    try:
        route_run = routing.start_route_run(route, trigger=RouteRun.Trigger.SCHEDULED)
    except routing.RouteBusy as busy:
        if route.enabled:
            route.record_skipped_fire(f"still running: {busy}")
        return {"started": False, "reason": str(busy)}
    return {"started": True, "route_run": route_run.pk}


@shared_task(ignore_result=True)
def repair_tasks() -> dict[str, int]:
    return routing.repair()


@shared_task(ignore_result=True)
def prune_tasks() -> int:
    return routing.prune_old_tasks()
