"""The Tasks page's filter bar as a query: one meaning for the list, its bulk actions, the API and background jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import RouteRun, Task

__all__ = ["FILTER_KEYS", "filtered_tasks"]

FILTER_KEYS = ("find", "scope", "route", "run", "status", "since", "until", "identifier", "q")


def _parse_time(value: str) -> datetime | None:
    parsed = parse_datetime(value) if value else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def filtered_tasks(params: Any) -> QuerySet[Task]:
    """Tasks matching the filter bar (the same filter for the list and for bulk actions)."""
    tasks = Task.objects.all()
    # Previews (an Incoming run outside a route) only when asked for, or when their run is named.
    scope = params.get("scope", "")
    if scope == "previews":
        tasks = tasks.exclude(Task.in_routes())
    elif scope != "all" and not params.get("run", "").isdigit():
        tasks = tasks.filter(Task.in_routes())
    if params.get("route", "").isdigit():
        runs = RouteRun.objects.filter(route_id=int(params["route"]), run__isnull=False).values("run_id")
        tasks = tasks.filter(run_id__in=runs)  # a semi-join on the route's runs, not two joins per task
    if params.get("run", "").isdigit():
        tasks = tasks.filter(run_id=int(params["run"]))
    if params.get("status") in Task.Status.values:
        tasks = tasks.filter(status=params["status"])
    since, until = _parse_time(params.get("since", "")), _parse_time(params.get("until", ""))
    if since:
        tasks = tasks.filter(created_at__gte=since)
    if until:
        tasks = tasks.filter(created_at__lte=until)
    if params.get("identifier", "").strip():
        tasks = tasks.filter(identifier=params["identifier"].strip())
    found = Task.search_filter(params.get("find", ""))
    if found is not None:
        tasks = tasks.filter(found)
    text = params.get("q", "").strip()
    if text:
        tasks = tasks.filter(Task.text_filter(text))
    return tasks
