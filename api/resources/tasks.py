"""Tasks: list them with the Tasks page's filters, read one, retry or skip one."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from audit.models import AuditEntry
from audit.recording import record
from connections.flow import routing
from connections.models import Task
from connections.task_counts import count_by_status
from connections.task_filters import FILTER_KEYS, filtered_tasks
from dashboard.access import editor_required, get_for_user, viewer_required

from .. import schemas
from ..problems import ApiProblem
from ..schemas import ERRORS, WRITE_ERRORS

router = Router()


class TaskFilters(Schema):
    """The Tasks page's filter bar, with the same meaning (``connections.views.tasks.filtered_tasks``)."""

    find: str = ""
    scope: str = ""
    route: str = ""
    run: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    identifier: str = ""
    q: str = ""


assert set(TaskFilters.model_fields) == set(FILTER_KEYS), "the API's task filters are the page's"


class TaskResult(Schema):
    id: int
    status: str
    done: bool
    message: str


class TaskPagination(LimitOffsetPagination):
    """The Tasks page's way through a million tasks: the count exact up to ``DASH_TASK_COUNT_CAP`` per status
    (the database's estimate above it, ``count_exact`` false), a page's ids first, then its rows."""

    class Output(Schema):
        items: list[Any]
        count: int
        count_exact: bool

    def paginate_queryset(self, queryset: Any, pagination: Any, request: HttpRequest, **params: Any) -> Any:
        status = params["filters"].status
        counts = count_by_status(queryset, [status] if status in Task.Status.values else None)
        offset, limit = pagination.offset, min(pagination.limit, self.max_limit)
        ids = list(queryset.values_list("pk", flat=True)[offset:offset + limit])
        rows = {task.pk: task for task in queryset.filter(pk__in=ids)}
        return {"items": [rows[pk] for pk in ids if pk in rows], "count": sum(c.value for c in counts.values()),
                "count_exact": all(c.exact for c in counts.values())}


@router.get("/tasks", response={200: list[schemas.TaskOut], **ERRORS}, tags=["tasks"],
            summary="List tasks with the Tasks page's filters, newest first")
@viewer_required
@paginate(TaskPagination)
def list_tasks(request: HttpRequest, filters: Query[TaskFilters]) -> Any:
    return (filtered_tasks(filters.model_dump()).defer("data", "transformed", "request", "response", "log")
            .order_by("-created_at", "-pk"))


@router.get("/tasks/{pk}", response={200: schemas.TaskDetailOut, **ERRORS}, tags=["tasks"],
            summary="Read one task with its data at each stage and its log")
@viewer_required
def get_task(request: HttpRequest, pk: int) -> Any:
    return get_for_user(request, Task, pk)


@router.post("/tasks/{pk}/retry", response={200: TaskResult, **WRITE_ERRORS}, tags=["tasks"],
             summary="Queue a failed, skipped or waiting task again")
@editor_required
def retry_task(request: HttpRequest, pk: int) -> Any:
    task = get_for_user(request, Task, pk, write=True)
    if task.status not in Task.RETRYABLE:
        raise ApiProblem(409, f"Task {task.pk} is {task.get_status_display()}: nothing to retry.")
    queued, _orphans = routing.requeue_tasks([task], message=f"Retry requested by {request.user} (API).",
                                          interactive=True)
    if not queued:
        raise ApiProblem(409, f"Task {task.pk} belongs to no route: it cannot be published.")
    task.refresh_from_db()
    record(AuditEntry.Action.API, obj=task, request=request, message="Retry requested through the API")
    return {"id": task.pk, "status": task.status, "done": True, "message": f"Task {task.pk} queued again."}


@router.post("/tasks/{pk}/skip", response={200: TaskResult, **WRITE_ERRORS}, tags=["tasks"],
             summary="Skip a waiting or failed task")
@editor_required
def skip_task(request: HttpRequest, pk: int) -> Any:
    task = get_for_user(request, Task, pk, write=True)
    if not routing.skip_task(task, user=request.user):
        raise ApiProblem(409, f"Task {task.pk} is {task.get_status_display()}: it cannot be skipped.")
    record(AuditEntry.Action.API, obj=task, request=request, message="Skipped through the API")
    return {"id": task.pk, "status": task.status, "done": True, "message": f"Task {task.pk} skipped."}
