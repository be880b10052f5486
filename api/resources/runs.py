"""Runs of routes: start one (Run now), list them, read one."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from audit.models import AuditEntry
from audit.recording import record
from connections.flow import routing
from connections.models import Route, RouteRun, TriggerSource
from dashboard.access import editor_required, get_for_user, viewer_required

from .. import schemas
from ..problems import ApiProblem
from ..schemas import ERRORS, WRITE_ERRORS

router = Router()


class RunFilters(Schema):
    route: int | None = None
    status: str | None = None


@router.post("/routes/{pk}/runs", response={202: schemas.RouteRunOut, **WRITE_ERRORS}, tags=["runs"],
             summary="Start a run of a route (Run now); 409 while one is going")
@editor_required
def start_run(request: HttpRequest, pk: int) -> Any:
    route = get_for_user(request, Route, pk, write=True)
    try:
        route_run = routing.start_route_run(route, trigger=TriggerSource.MANUAL, user=request.user)
    except routing.RouteBusy as busy:
        raise ApiProblem(409, f"Not started: {busy}") from None
    record(AuditEntry.Action.RUN, obj=route, request=request, message=f"Run {route_run.pk} started through the API")
    return Status(202, route_run)


@router.get("/runs", response={200: list[schemas.RouteRunOut], **ERRORS}, tags=["runs"],
            summary="List runs of routes, newest first")
@viewer_required
@paginate(LimitOffsetPagination)
def list_runs(request: HttpRequest, filters: Query[RunFilters]) -> Any:
    runs = RouteRun.objects.order_by("-created_at", "-pk")
    if filters.route is not None:
        runs = runs.filter(route_id=filters.route)
    if filters.status in RouteRun.Status.values:
        runs = runs.filter(status=filters.status)
    return runs


@router.get("/runs/{pk}", response={200: schemas.RouteRunOut, **ERRORS}, tags=["runs"], summary="Read one run")
@viewer_required
def get_run(request: HttpRequest, pk: int) -> Any:
    return get_for_user(request, RouteRun, pk)
