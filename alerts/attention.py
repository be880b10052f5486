"""The dashboard's first panel: what needs someone now (failed runs and tasks, clients to reconnect, paused
divisions, stalled runs, maintenance under way, open alerts). Everything links to where it is fixed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Subquery
from django.utils import timezone

from clients.models import HttpClient
from connections.models import RouteRun, Task
from connections.overview import tasks_last_24_hours
from dashboard.health import check_worker

from .models import Alert, MaintenanceWindow, Rule
from .rules import run_stalled

__all__ = ["attention_context"]

STALLED_MINUTES = 15


def attention_context() -> dict[str, Any]:
    now = timezone.now()
    since = now - timedelta(hours=24)
    recent = (RouteRun.objects.filter(status__in=RouteRun.TERMINAL, finished_at__gte=since)
              .select_related("route").with_numbers().order_by("-finished_at"))
    failed_runs = list(recent.filter(status=RouteRun.Status.FAILED)[:10])
    # Runs that "finished" but whose tasks failed: as much a failure to the person reading the dashboard. Which
    # runs is an index probe per run (run, status); only the ten shown have their tasks counted, in the same query
    # (two index-only counts per shown run on (run, status), no query of their own).
    failed_in_run = Task.objects.filter(run_id=OuterRef("run_id"), status=Task.Status.FAILED)
    in_run = Task.objects.filter(run_id=OuterRef("run_id")).order_by().values("run_id")
    shown = list(recent.filter(Exists(failed_in_run), status=RouteRun.Status.SUCCEEDED).annotate(
        failed_n=Subquery(in_run.filter(status=Task.Status.FAILED).annotate(n=Count("*")).values("n")),
        total_n=Subquery(in_run.annotate(n=Count("*")).values("n")))[:10])
    with_failures = [{"route_run": rr, "failed": rr.failed_n or 0, "total": rr.total_n or 0} for rr in shown]
    failed_tasks = tasks_last_24_hours().get(Task.Status.FAILED, 0)  # counted at most once a minute
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
    # Counted only when the ten shown may not be all of them.
    open_alert_count = len(open_alerts) if len(open_alerts) < 10 else Alert.objects.open().count()
    task_url_since = since.isoformat()
    items = len(failed_runs) + len(with_failures) + bool(failed_tasks) + len(reconnect) + len(paused) + len(stalled) \
        + len(open_alerts) + bool(no_worker)
    return {
        "failed_runs": failed_runs, "with_failures": with_failures, "failed_tasks": failed_tasks,
        "failed_tasks_since": task_url_since, "reconnect": reconnect, "paused": paused, "stalled": stalled,
        "in_maintenance": in_maintenance, "no_worker": no_worker, "open_alerts": open_alerts,
        "open_alert_count": open_alert_count,
        "count": items,
    }
