"""The dashboard's first panel: what needs someone now (failed runs and tasks, clients to reconnect, paused
divisions, stalled runs, maintenance under way, open alerts). Everything links to where it is fixed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from clients.models import HttpClient
from connections.models import RouteRun, Task
from dashboard.health import check_worker

from .models import Alert, MaintenanceWindow, Rule
from .rules import run_stalled

__all__ = ["attention_context"]

STALLED_MINUTES = 15


def attention_context() -> dict[str, Any]:
    now = timezone.now()
    since = now - timedelta(hours=24)
    recent = (RouteRun.objects.filter(status__in=RouteRun.TERMINAL, finished_at__gte=since)
              .select_related("route").order_by("-finished_at"))
    failed_runs = list(recent.filter(status=RouteRun.Status.FAILED)[:10])
    # Runs that "finished" but whose tasks failed: as much a failure to the person reading the dashboard.
    with_failures = list(recent.filter(status=RouteRun.Status.SUCCEEDED).annotate(
        failed=Count("run__tasks", filter=Q(run__tasks__status=Task.Status.FAILED)),
        total=Count("run__tasks")).filter(failed__gt=0)[:10])
    failed_tasks = Task.objects.filter(Task.in_routes(), status=Task.Status.FAILED, created_at__gte=since).count()
    clients = list(HttpClient.objects.exclude(status=HttpClient.Status.NOT_GRANTED).order_by("name")[:100])
    reconnect = [c for c in clients if c.needs_reconnect]
    paused: list[dict[str, Any]] = []
    granted = [c for c in clients if c.is_granted]
    quotas, circuits = HttpClient.quotas_by_client(granted), HttpClient.open_circuits_by_client(granted)
    for client in granted:
        for q in quotas[client.pk]:
            if q.is_parked:
                paused.append({"client": client, "division": q.division, "until": q.parked_until,
                               "why": "throttled (rate limit)"})
            elif q.daily_remaining == 0 and q.is_current:
                paused.append({"client": client, "division": q.division, "until": q.daily_reset,
                               "why": "daily quota used up"})
        for circuit in circuits[client.pk]:
            paused.append({"client": client, "division": circuit.division, "until": circuit.until,
                           "why": f"paused: error budget ({circuit.scope})"})
    stalled = run_stalled(Rule(kind=Rule.Kind.RUN_STALLED, threshold=STALLED_MINUTES), now)
    windows = [(w, w.active_until(now)) for w in MaintenanceWindow.objects.filter(starts_at__lte=now)
               .select_related("route", "http_client")]
    in_maintenance = [{"window": w, "until": until} for w, until in windows if until is not None]
    worker = check_worker()  # beat and a worker must live for runs and alerts: say so when none reported lately
    no_worker = worker if worker["status"] == "stale" else None
    open_alerts = list(Alert.objects.open().select_related("rule").order_by("-opened_at")[:10])
    task_url_since = since.isoformat()
    items = len(failed_runs) + len(with_failures) + bool(failed_tasks) + len(reconnect) + len(paused) + len(stalled) \
        + len(open_alerts) + bool(no_worker)
    return {
        "failed_runs": failed_runs, "with_failures": with_failures, "failed_tasks": failed_tasks,
        "failed_tasks_since": task_url_since, "reconnect": reconnect, "paused": paused, "stalled": stalled,
        "in_maintenance": in_maintenance, "no_worker": no_worker, "open_alerts": open_alerts,
        "open_alert_count": Alert.objects.open().count(),
        "count": items,
    }
