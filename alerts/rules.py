"""What each rule kind watches: a plain function per kind that returns the incidents it sees now.

A ``Finding`` is one incident (``key`` says of what: a route, a client's division, a worker); the engine
opens, repeats and resolves alerts from them. Everything is asked through the platform's own models and the
client-type plugin interface (quota, circuits): no connector is named here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.urls import reverse

from clients.models import HttpClient
from connections.models import Route, RouteRun, Task, TriggerSource
from dashboard.models import WorkerHeartbeat
from webhooks.models import Delivery

from .models import Rule

__all__ = ["EVALUATORS", "Finding", "findings_for"]

HEARTBEAT_FORGOTTEN_AFTER = timedelta(days=7)  # a worker gone this long was retired, not lost


@dataclass
class Finding:
    """One incident a rule sees now; ``route_ids``/``client_ids`` are what a maintenance window may cover."""

    key: str
    subject: str
    detail: str = ""
    url: str = ""
    route_ids: list[int] = field(default_factory=list)
    client_ids: list[int] = field(default_factory=list)


def _routes(rule: Rule) -> list[Route]:
    routes = Route.objects.filter(enabled=True).select_related("incoming", "outgoing")
    if rule.route_id:
        routes = routes.filter(pk=rule.route_id)
    return list(routes)


def _route_clients(route: Route) -> list[int]:
    return [c for c in (getattr(route.incoming, "http_client_id", None), route.outgoing.http_client_id) if c]


def _latest_terminal(route: Route) -> RouteRun | None:
    return route.runs.filter(status__in=RouteRun.TERMINAL).order_by("-finished_at", "-pk").first()


def _route_finding(route: Route, key: str, subject: str, detail: str, url: str = "") -> Finding:
    return Finding(key=key, subject=subject, detail=detail, url=url or reverse("connections:route_detail",
                                                                                args=[route.pk]),
                   route_ids=[route.pk], client_ids=_route_clients(route))


def run_failed(rule: Rule, now: datetime) -> list[Finding]:
    """The route's latest finished run failed; clears when a later run finishes."""
    found = []
    for route in _routes(rule):
        last = _latest_terminal(route)
        if last is not None and last.status == RouteRun.Status.FAILED:
            found.append(_route_finding(route, f"route:{route.pk}", f"Route {route.name}: run {last.number} failed",
                                        last.error or "The run failed."))
    return found


def tasks_failed(rule: Rule, now: datetime) -> list[Finding]:
    """In the route's latest finished run, at least N tasks failed (or P% of them); clears with a better run."""
    limit, percent = rule.limit(), rule.limit_percent()
    found = []
    for route in _routes(rule):
        last = _latest_terminal(route)
        if last is None or last.run_id is None:
            continue
        counts = Task.objects.filter(run_id=last.run_id).aggregate(
            total=Count("pk"), failed=Count("pk", filter=Q(status=Task.Status.FAILED)))
        failed, total = counts["failed"], counts["total"]
        if not failed:
            continue
        over_n = limit is not None and failed >= limit
        over_p = percent is not None and total and failed * 100 >= percent * total
        if over_n or over_p:
            url = reverse("connections:task_list") + f"?route={route.pk}&run={last.run_id}&status=failed"
            found.append(_route_finding(route, f"route:{route.pk}",
                                        f"Route {route.name}: {failed} of {total} tasks failed in run {last.number}",
                                        f"{failed} of {total} tasks failed ({round(failed * 100 / total)}%).", url))
    return found


def no_success(rule: Rule, now: datetime) -> list[Finding]:
    """No run of the route finished successfully for H hours (routes that run by themselves, or the rule's)."""
    hours = rule.limit() or 24
    found = []
    for route in _routes(rule):
        if not rule.route_id and route.schedule_kind == Route.ScheduleKind.NONE and route.webhook_id is None:
            continue  # a route only run by hand is not expected to succeed on its own
        last_ok = (route.runs.filter(status=RouteRun.Status.SUCCEEDED).exclude(trigger=TriggerSource.WEBHOOK)
                   .order_by("-finished_at").values_list("finished_at", flat=True).first())
        since = last_ok or route.created_at
        if since < now - timedelta(hours=hours):
            what = f"last success {since:%Y-%m-%d %H:%M}" if last_ok else "no successful run yet"
            found.append(_route_finding(route, f"route:{route.pk}",
                                        f"Route {route.name} has not succeeded for {hours} h", f"{what.capitalize()}."))
    return found


def client_reconnect(rule: Rule, now: datetime) -> list[Finding]:
    """An HTTP client needs reconnecting, or its refresh token was not used for D days (it dies unused)."""
    days = rule.limit() or 25
    found = []
    for client in HttpClient.objects.select_related("grant").order_by("pk"):
        url = reverse("clients:detail", args=[client.pk])
        if client.needs_reconnect:
            found.append(Finding(f"client:{client.pk}", f"HTTP client {client.name} needs reconnecting",
                                 client.status_message or "The other side refused the grant: grant access again.",
                                 url, client_ids=[client.pk]))
            continue
        grant = client.grant_or_none
        if not client.is_granted or grant is None or not grant.has_tokens:
            continue
        used = grant.refresh_used_at or grant.granted_at
        if used is not None and used < now - timedelta(days=days):
            found.append(Finding(f"client:{client.pk}", f"HTTP client {client.name}: refresh token idle for "
                                 f"{(now - used).days} days", "Its refresh token was not used for more than "
                                 f"{days} days; it expires when unused for long. Test the connection or run a route.",
                                 url, client_ids=[client.pk]))
    return found


def quota(rule: Rule, now: datetime) -> list[Finding]:
    """A division's daily quota is used above P% (per client and division); clears after the daily reset."""
    percent = rule.limit_percent() or 80
    found = []
    clients = list(HttpClient.objects.usable())
    quotas = HttpClient.quotas_by_client(clients)
    for client in clients:
        for q in quotas[client.pk]:
            used = q.daily_used_percent
            if used is None or used < percent or not q.is_current:
                continue
            scope = f"division {q.division}" if q.division else "its API"
            found.append(Finding(f"client:{client.pk}:division:{q.division}",
                                 f"{client.name}: {used}% of today's quota used for {scope}",
                                 f"{q.daily_remaining} of {q.daily_limit} calls left today.",
                                 reverse("clients:detail", args=[client.pk]), client_ids=[client.pk]))
    return found


def circuit_open(rule: Rule, now: datetime) -> list[Finding]:
    """A client type holds part of its API back (error budget spent); clears when the circuit closes."""
    found = []
    clients = list(HttpClient.objects.usable())
    circuits = HttpClient.open_circuits_by_client(clients)
    for client in clients:
        for circuit in circuits[client.pk]:
            scope = f" in division {circuit.division}" if circuit.division else ""
            local = circuit.until.astimezone(now.tzinfo) if now.tzinfo else circuit.until
            found.append(Finding(f"client:{client.pk}:circuit:{circuit.division}:{circuit.scope}",
                                 f"{client.name}: {circuit.scope}{scope} paused until {local:%H:%M}",
                                 circuit.reason or "The error budget is spent.",
                                 reverse("clients:detail", args=[client.pk]), client_ids=[client.pk]))
    return found


def run_stalled(rule: Rule, now: datetime) -> list[Finding]:
    """An active run reported no progress for M minutes while it had work it could do."""
    minutes = rule.limit() or 15
    cutoff = now - timedelta(minutes=minutes)
    runs = RouteRun.objects.active().filter(heartbeat_at__lt=cutoff).select_related("route__incoming",
                                                                                      "route__outgoing")
    if rule.route_id:
        runs = runs.filter(route_id=rule.route_id)
    found = []
    for route_run in runs:
        if route_run.status == RouteRun.Status.PUBLISHING:
            waiting = route_run.tasks().filter(Q(status=Task.Status.PROCESSING)
                                               | Q(status__in=Task.CLAIMABLE) & (Q(next_attempt_at__isnull=True)
                                                                                  | Q(next_attempt_at__lte=cutoff)))
            if not waiting.exists():
                continue  # every open task waits for its retry: resting, not stalled
        route = route_run.route
        url = reverse("connections:run_detail", args=[route_run.run_id]) if route_run.run_id else ""
        found.append(_route_finding(route, f"routerun:{route_run.pk}",
                                    f"Route {route.name}: run {route_run.number} stalled",
                                    f"{route_run.get_status_display()} with no progress since "
                                    f"{route_run.heartbeat_at:%H:%M} ({minutes} min or more).", url))
    return found


def no_heartbeat(rule: Rule, now: datetime) -> list[Finding]:
    """A worker that used to report has not for M minutes (one forgotten after a week is retired)."""
    minutes = rule.limit() or 3
    stale = WorkerHeartbeat.objects.filter(seen_at__lt=now - timedelta(minutes=minutes),
                                           seen_at__gte=now - HEARTBEAT_FORGOTTEN_AFTER)
    return [Finding(f"worker:{beat.name}", f"No heartbeat from worker {beat.name}",
                    f"Last seen {beat.seen_at:%Y-%m-%d %H:%M}. Check that the worker and beat run.", "/health")
            for beat in stale]


def webhook_failing(rule: Rule, now: datetime) -> list[Finding]:
    """At least N deliveries of a webhook failed in the last hour."""
    limit = rule.limit() or 1
    rows = (Delivery.objects.filter(status=Delivery.Status.FAILED, received_at__gte=now - timedelta(hours=1))
            .values("webhook_id", "webhook__name").annotate(n=Count("pk")).filter(n__gte=limit))
    found = []
    for row in rows:
        route_ids = list(Route.objects.filter(webhook_id=row["webhook_id"]).values_list("pk", flat=True))
        found.append(Finding(f"webhook:{row['webhook_id']}",
                             f"Webhook {row['webhook__name']}: {row['n']} deliveries failed in the last hour",
                             "Open the webhook to see each delivery's error, fix the configuration and replay.",
                             reverse("webhooks:detail", args=[row["webhook_id"]]), route_ids=route_ids))
    return found


EVALUATORS: dict[str, Callable[[Rule, datetime], list[Finding]]] = {
    Rule.Kind.RUN_FAILED: run_failed,
    Rule.Kind.TASKS_FAILED: tasks_failed,
    Rule.Kind.NO_SUCCESS: no_success,
    Rule.Kind.CLIENT_RECONNECT: client_reconnect,
    Rule.Kind.QUOTA: quota,
    Rule.Kind.CIRCUIT_OPEN: circuit_open,
    Rule.Kind.RUN_STALLED: run_stalled,
    Rule.Kind.NO_HEARTBEAT: no_heartbeat,
    Rule.Kind.WEBHOOK_FAILING: webhook_failing,
}


def findings_for(rule: Rule, now: datetime) -> list[Finding]:
    return EVALUATORS[rule.kind](rule, now)
