"""Tasks: filter, open a timeline, retry / skip / delete one or all that match, edit a payload and retry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import can_edit, editor_required, get_for_user, viewer_required
from dashboard.templatetags.dash import badge_colour
from lib.json_input import parse_json

from ..flow.bulk import start_bulk_retry
from ..flow.routing import requeue_tasks, skip_task
from ..models import Route, RouteRun, Task, TaskBulkRetry
from ..task_counts import TaskCount, count_by_status, first_matches
from ..task_filters import FILTER_KEYS, filtered_tasks
from ..transformers.diff import json_diff
from ..waits import Waiting

__all__ = [
    "task_bulk", "task_bulk_progress", "task_delete", "task_detail", "task_edit_payload", "task_list", "task_retry",
    "task_skip",
]



def bulk_counts(by_status: dict[str, TaskCount]) -> dict[str, TaskCount]:
    """How many tasks each bulk action would touch, so every confirmation can name its count."""
    none = TaskCount(0)
    return {
        "retry": sum((by_status.get(status, none) for status in Task.RETRYABLE), none),
        "skip": sum((by_status.get(status, none) for status in Task.SKIPPABLE), none),
        "delete": sum((n for status, n in by_status.items() if status != Task.Status.PROCESSING), none),
    }


def get_task_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Task:
    return get_for_user(request, Task.objects.select_related("run__route_run__route"), pk, write=write)


def _filter_query(params: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({k: params.get(k) for k in FILTER_KEYS if params.get(k)})


class _KnownCountPaginator(Paginator):
    """A paginator told how many objects there are (the capped count), so it never runs ``COUNT(*)`` itself."""

    def __init__(self, object_list: Any, per_page: int, *, total: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = total  # ``count`` is a cached property: this is its value


class _IdsFirst:
    """The rows of a page in two steps: its ids (an index-only scan, cheap even at page 500), then those rows."""

    def __init__(self, tasks: QuerySet[Task], total: int, known: list[int] | None = None,
                 complete: bool = False) -> None:
        # ``known``: the first ids in the page's order, read already (a text search's one scan); ``complete``: all.
        self.tasks, self.total, self.known, self.complete = tasks, total, known, complete

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, window: slice) -> list[Task]:
        if self.known is not None and (self.complete or (window.stop or 0) <= len(self.known)):
            ids = self.known[window]
        else:
            ids = list(self.tasks.values_list("pk", flat=True)[window])
        return _rows(ids)


def _rows(ids: list[int]) -> list[Task]:
    """The tasks ``ids`` in that order, with what each row shows."""
    if not ids:
        return []
    # The rows by primary key alone (the filter chose them already), with their route's name as one column:
    # no Run, RouteRun and Route built per row (a Run carries two JSON columns), no per-row lookups later.
    rows = {task.pk: task for task in Task.objects.filter(pk__in=ids).defer(*LIST_DEFERRED)
            .annotate(route_name=F("run__route_run__route__name"))}
    # What each row shows, worked out once here rather than by a tag per cell (reverse() per link was a
    # tenth of the page's CPU): its link, its status's colour and label.
    prefix, _, suffix = reverse("connections:task_detail", args=[_URL_PLACEHOLDER]).partition(str(_URL_PLACEHOLDER))
    labels = dict(Task.Status.choices)
    for task in rows.values():
        task.url = f"{prefix}{task.pk}{suffix}"  # type: ignore[attr-defined]
        task.badge = badge_colour(task.status)  # type: ignore[attr-defined]
        task.status_label = labels.get(task.status, task.status)  # type: ignore[attr-defined]
    return [rows[pk] for pk in ids if pk in rows]


PER_PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(task: Task) -> str:
    """Where a row stands in the page's order (newest first), for a Next or Previous link: microseconds_id."""
    return f"{(task.created_at - _EPOCH) // timedelta(microseconds=1)}_{task.pk}"


def _parse_cursor(value: str) -> tuple[datetime, int] | None:
    at, _, pk = value.partition("_")
    try:
        return _EPOCH + timedelta(microseconds=int(at)), int(pk)
    except (ValueError, OverflowError):
        return None


class _SeekPage:
    """A page found from the row before (``after``) or after it (``before``) rather than by OFFSET: page 500 costs
    what page 2 does (an index range scan from the cursor). The number shown comes with the link."""

    def __init__(self, rows: list[Task], number: int, has_previous: bool, has_next: bool, pages: int) -> None:
        self.object_list, self.number = rows, number
        self._previous, self._next = has_previous, has_next
        self.paginator = SimpleNamespace(num_pages=max(pages, number))

    def has_previous(self) -> bool:
        return self._previous

    def has_next(self) -> bool:
        return self._next

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def _page_links(query: str, page: Any) -> dict[str, str]:
    """Next and Previous name the row they continue from, so the next page is an index range scan (not OFFSET);
    a bare ?page=N still works (OFFSET over an index-only scan). Previous to page 1 is page 1 as it is now."""
    items = list(page.object_list)
    if not items:
        return {"previous": "", "next": ""}
    before = f"&before={_cursor(items[0])}" if page.number > 2 else ""
    return {
        "previous": f"?{query}&page={page.number - 1}{before}" if page.has_previous() else "",
        "next": f"?{query}&page={page.number + 1}&after={_cursor(items[-1])}" if page.has_next() else "",
    }


def _seek_page(tasks: QuerySet[Task], params: Any, pages: int) -> _SeekPage | None:
    """The page a Next (``after``) or Previous (``before``) link names, or None without a usable cursor."""
    after, before = _parse_cursor(params.get("after", "")), _parse_cursor(params.get("before", ""))
    number = int(params["page"]) if params.get("page", "").isdigit() and int(params["page"]) > 0 else 0
    if not number or not (after or before):
        return None
    if after:
        at, pk = after
        ids = list(tasks.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk), created_at__lte=at)
                   .values_list("pk", flat=True)[:PER_PAGE + 1])
        if not ids:
            return None
        return _SeekPage(_rows(ids[:PER_PAGE]), number, number > 1, len(ids) > PER_PAGE, pages)
    at, pk = before  # type: ignore[misc]
    ids = list(tasks.filter(Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk), created_at__gte=at)
               .order_by("created_at", "pk").values_list("pk", flat=True)[:PER_PAGE + 1])
    if len(ids) <= PER_PAGE:  # back at the top: page 1 as it is now
        return None
    return _SeekPage(_rows(ids[:PER_PAGE][::-1]), max(number, 2), True, True, pages)


_URL_PLACEHOLDER = 987654321987  # a task id no URL pattern confuses with anything else

# The list shows none of the large columns: they stay on disk until a task's own page opens.
LIST_DEFERRED = ("data", "transformed", "request", "response", "log")


@viewer_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    matching = filtered_tasks(request.GET)
    status = request.GET.get("status", "")
    statuses = [status] if status in Task.Status.values else None
    # Tasks per status of everything that matches, as a bar: exact up to the cap, estimated above it. A text search
    # has no estimates, only what its first matches show: one scan of them in the page's order gives both.
    first = first_matches(matching, statuses) if request.GET.get("q", "").strip() else None
    counts = count_by_status(matching, statuses, lower_bounds=first is not None,
                             sample=None if first is None else [s for _, s in first])
    by_status = {value: n for value, n in counts.items() if n}
    total = sum(by_status.values(), TaskCount(0))
    tasks = matching.order_by("-created_at", "-pk")
    rows = _IdsFirst(tasks, total.value, known=None if first is None else [pk for pk, _ in first],
                     complete=total.exact)
    pages = _KnownCountPaginator(rows, PER_PAGE, total=total.value)
    page = _seek_page(tasks, request.GET, pages.num_pages) or pages.get_page(request.GET.get("page"))
    query = _filter_query(request.GET)
    bar: list[dict[str, Any]] = [{"status": value, "label": label, "count": by_status[value],
                                  "percent": round(100 * by_status[value].value / (total.value or 1), 1)}
                                 for value, label in Task.Status.choices if by_status.get(value)]
    offset = 0.0
    for segment in bar:  # where each segment starts, for the SVG (no inline styles: the CSP forbids them)
        segment["offset"], offset = round(offset, 1), offset + segment["percent"]
    return render(request, "connections/tasks/list.html", {
        "page": page, "filters": {k: request.GET.get(k, "") for k in FILTER_KEYS},
        "filter_query": query, "links": _page_links(query, page), "routes": Route.objects.only("pk", "name"),
        "statuses": Task.Status.choices, "can_edit": can_edit(request.user), "bar": bar,
        "bulk": bulk_counts(by_status), "total": total, "bulk_jobs": recent_bulk_jobs(),
    })


def recent_bulk_jobs() -> list[TaskBulkRetry]:
    """Background retries still going, or finished in the last hour (the page shows their progress)."""
    since = timezone.now() - timedelta(hours=1)
    return list(TaskBulkRetry.objects.filter(Q(status__in=TaskBulkRetry.ACTIVE) | Q(finished_at__gte=since))
                .select_related("created_by")[:5])


@viewer_required
@require_GET
def task_bulk_progress(request: HttpRequest) -> HttpResponse:
    """The background retries' progress (htmx polls it while one is running)."""
    return render(request, "connections/tasks/_bulk_jobs.html", {"bulk_jobs": recent_bulk_jobs()})


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
    waiting = Waiting(task.wait_reason, task.next_attempt_at) if task.wait_reason and task.status == Task.Status.RETRY \
        and task.next_attempt_at and task.next_attempt_at > timezone.now() else None
    return render(request, "connections/tasks/detail.html", {
        "task": task, "route_run": route_run, "waiting": waiting, "route": route_run.route if route_run else None,
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
        queued, _orphans = requeue_tasks([task], message=f"Retry requested by {request.user}.", interactive=True)
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
    count: int | str
    if action == "retry":  # may be a hundred thousand: a worker does it in chunks, the page shows how far
        job = start_bulk_retry({k: request.POST.get(k, "") for k in FILTER_KEYS}, user=request.user)
        count = f"in the background (job {job.pk}), the"
        messages.success(request, f"Retrying every matching failed, skipped or waiting task in the background "
                                  f"(job {job.pk}); its progress is shown below.")
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
            queued, _ = requeue_tasks([task], message=f"Retry after edit requested by {request.user}.",
                                        interactive=True)
            messages.success(request, f"Payload of task {task.pk} saved" + (" and queued again." if queued else "."))
            return redirect("connections:task_detail", pk=task.pk)
    return render(request, "connections/tasks/edit_payload.html", {"task": task, "text": text, "error": error},
                  status=400 if error else 200)
