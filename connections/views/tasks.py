"""Tasks: filter, open a timeline, retry / skip / delete one or all that match, edit a payload and retry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import can_edit, editor_required, get_for_user, viewer_required
from lib.json_input import parse_json

from ..flow.routing import requeue_tasks, skip_task
from ..models import Route, RouteRun, Task
from ..transformers.diff import json_diff

__all__ = ["task_bulk", "task_delete", "task_detail", "task_edit_payload", "task_list", "task_retry", "task_skip"]

FILTER_KEYS = ("find", "scope", "route", "run", "status", "since", "until", "identifier", "q")


def bulk_counts(by_status: dict[str, int]) -> dict[str, int]:
    """How many tasks each bulk action would touch, so every confirmation can name its count."""
    return {
        "retry": sum(by_status.get(status, 0) for status in Task.RETRYABLE),
        "skip": sum(by_status.get(status, 0) for status in Task.SKIPPABLE),
        "delete": sum(n for status, n in by_status.items() if status != Task.Status.PROCESSING),
    }


def get_task_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Task:
    return get_for_user(request, Task.objects.select_related("run__route_run__route"), pk, write=write)


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
        tasks = tasks.filter(run__route_run__route_id=int(params["route"]))
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
        tasks = tasks.filter(Q(identifier__icontains=text) | Q(external_key__icontains=text)
                             | Q(error__icontains=text) | Q(skip_reason__icontains=text))
    return tasks


def _filter_query(params: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({k: params.get(k) for k in FILTER_KEYS if params.get(k)})


@viewer_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = filtered_tasks(request.GET).select_related("run__route_run__route").order_by("-created_at", "-pk")
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    # Tasks per status of everything that matches, as a bar: a picture where people would rather look.
    by_status = dict(filtered_tasks(request.GET).order_by().values_list("status").annotate(n=Count("pk")))
    total = sum(by_status.values()) or 1
    bar = [{"status": value, "label": label, "count": by_status.get(value, 0),
            "percent": round(100 * by_status.get(value, 0) / total, 1)}
           for value, label in Task.Status.choices if by_status.get(value)]
    offset = 0.0
    for segment in bar:  # where each segment starts, for the SVG (no inline styles: the CSP forbids them)
        segment["offset"], offset = round(offset, 1), offset + segment["percent"]
    return render(request, "connections/tasks/list.html", {
        "page": page, "filters": {k: request.GET.get(k, "") for k in FILTER_KEYS},
        "filter_query": _filter_query(request.GET), "routes": Route.objects.only("pk", "name"),
        "statuses": Task.Status.choices, "can_edit": can_edit(request.user), "bar": bar,
        "bulk": bulk_counts(by_status),
    })


def _stages(task: Task) -> dict[str, Any]:
    """The data at each stage and the diffs where two versions meet."""
    edits = [line for line in (task.log or []) if isinstance(line, dict) and "edit_before" in line]
    original = edits[0]["edit_before"] if edits else task.transformed
    return {
        "edits": edits,
        "original_transformed": original,
        "diff_transform": json_diff(task.data, original) if original is not None else [],
        "diff_edit": json_diff(original, task.transformed) if edits else [],
    }


@viewer_required
@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk)
    route_run = getattr(task.run, "route_run", None) if task.run_id else None
    return render(request, "connections/tasks/detail.html", {
        "task": task, "route_run": route_run, "route": route_run.route if route_run else None,
        "timeline": [{**line, "when": parse_datetime(str(line.get("at", "")))}
                     for line in (task.log or []) if isinstance(line, dict)],
        "can_edit": can_edit(request.user), "retryable": task.status in Task.RETRYABLE,
        "skippable": task.status in Task.SKIPPABLE, **_stages(task),
    })


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else default)


@editor_required
@require_POST
def task_retry(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    if task.status not in Task.RETRYABLE:
        messages.warning(request, f"Task {task.pk} is {task.get_status_display()}: nothing to retry.")
    else:
        queued, _orphans = requeue_tasks([task], message=f"Retry requested by {request.user}.")
        if queued:
            messages.success(request, f"Task {task.pk} queued again.")
        else:
            messages.error(request, f"Task {task.pk} belongs to no route: it cannot be published.")
    return _back(request, reverse("connections:task_detail", args=[task.pk]))


@editor_required
@require_POST
def task_skip(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    if not skip_task(task, user=request.user):
        messages.warning(request, f"Task {task.pk} is {task.get_status_display()}: it cannot be skipped.")
    else:
        messages.success(request, f"Task {task.pk} skipped.")
    return _back(request, reverse("connections:task_detail", args=[task.pk]))


@editor_required
@require_POST
def task_delete(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    if task.status == Task.Status.PROCESSING:
        messages.warning(request, f"Task {task.pk} is being published; delete it when it is done.")
        return redirect("connections:task_detail", pk=task.pk)
    task.delete()
    messages.success(request, f"Task {pk} deleted.")
    return _back(request, reverse("connections:task_list"))


@editor_required
@require_POST
def task_bulk(request: HttpRequest) -> HttpResponse:
    """Retry, skip or delete every task that matches the filter (not only the page shown)."""
    action = request.POST.get("action")
    tasks = filtered_tasks(request.POST)
    back = reverse("connections:task_list") + "?" + _filter_query(request.POST)
    if action == "retry":
        queued, orphans = requeue_tasks(list(tasks.filter(status__in=Task.RETRYABLE)),
                                        message=f"Retry (bulk) requested by {request.user}.")
        count = queued
        messages.success(request, f"{queued} task(s) queued again." + (
            f" {orphans} belong to no route and were left alone." if orphans else ""))
    elif action == "skip":
        count = sum(task.skip(f"Skipped by {request.user}", message=f"Skipped (bulk) by {request.user}.")
                    for task in tasks.filter(status__in=Task.SKIPPABLE).iterator())
        for route_run in RouteRun.objects.filter(status=RouteRun.Status.PUBLISHING):
            route_run.finish_if_done()
        messages.success(request, f"{count} task(s) skipped.")
    elif action == "delete":
        count = tasks.exclude(status=Task.Status.PROCESSING).delete()[0]
        messages.success(request, f"{count} task(s) deleted.")
    else:
        messages.error(request, "Choose retry, skip or delete.")
        return redirect(back)
    record(AuditEntry.Action.BULK, request=request, object_type="connections.task", object_repr="Tasks",
           changes={"action": action, "filter": _filter_query(request.POST)},
           message=f"{action}: {count} task(s)")
    return redirect(back)


@editor_required
def task_edit_payload(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the data a failed task publishes, then retry it; the change is kept in the task's log."""
    task = get_task_for_user(request, pk, write=True)
    current = task.transformed if task.transformed is not None else task.data
    text = json.dumps(current, indent=2, ensure_ascii=False)
    error = ""
    if task.status not in Task.RETRYABLE:
        messages.warning(request, f"Task {task.pk} is {task.get_status_display()}: only a failed, skipped or "
                                  "waiting task can be edited.")
        return redirect("connections:task_detail", pk=task.pk)
    if request.method == "POST":
        text = request.POST.get("payload", "")
        try:
            edited = parse_json(text)
        except ValueError as exc:
            error = f"Not valid JSON: {exc}"
        else:
            task.edit_payload(edited, user=request.user)
            queued, _ = requeue_tasks([task], message=f"Retry after edit requested by {request.user}.")
            messages.success(request, f"Payload of task {task.pk} saved" + (" and queued again." if queued else "."))
            return redirect("connections:task_detail", pk=task.pk)
    return render(request, "connections/tasks/edit_payload.html", {"task": task, "text": text, "error": error},
                  status=400 if error else 200)
