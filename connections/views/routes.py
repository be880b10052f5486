"""Connections → Routes: list, create, edit, delete, Run now, Dry run, and the live status partial."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import AuthedRequest, can_edit, editor_required, get_for_user, viewer_required

from .. import tester_sources
from ..flow import routing
from ..forms.routes import RouteForm
from ..models import Route, RouteRun, TriggerSource
from ..waits import route_run_waiting

__all__ = ["route_create", "route_delete", "route_detail", "route_dry_run", "route_edit", "route_list", "route_run",
           "route_status"]

logger = logging.getLogger(__name__)


def get_route_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Route:
    return get_for_user(request, Route.objects.select_related("incoming", "outgoing", "periodic_task", "webhook"), pk,
                        write=write)


def _status_context(route: Route) -> dict[str, object]:
    latest = route.runs.select_related("run").first()
    # Quota left where the route writes: what the API's rate-limit headers last said for that division.
    quota = route.outgoing.http_client.quota((route.outgoing.path or {}).get("division"))
    counts = routing.counters(latest) if latest else None
    return {"route": route, "route_run": latest, "counts": counts, "quota": quota,
            "waiting": route_run_waiting(latest, counts) if latest else None}


@viewer_required
@require_GET
def route_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    routes = Route.objects.select_related("incoming", "outgoing", "webhook")
    if q:
        routes = routes.filter(Q(name__icontains=q) | Q(incoming__name__icontains=q) | Q(outgoing__name__icontains=q))
    rows = [(route, route.runs.first()) for route in routes]
    return render(request, "connections/routes/list.html", {"rows": rows, "q": q, "can_edit": can_edit(request.user)})


@editor_required
def route_create(request: AuthedRequest) -> HttpResponse:
    # ?webhook=<id>: "Create a route fed by these events" from a webhook's or a client's page
    initial = {"webhook": request.GET["webhook"]} if request.GET.get("webhook", "").isdigit() else {}
    form = RouteForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        route = form.save(commit=False)
        route.created_by = request.user
        route.save()
        route.set_transformers(form.ordered_transformers())
        messages.success(request, f"Route {route.name} created.")
        if form.reconcile_note:
            messages.info(request, form.reconcile_note)
        incoming = route.incoming
        reader = incoming.subscriber_class if incoming else None
        if (incoming and route.periodic_task and not incoming.incremental
                and getattr(reader, "incremental_by_default", False)):
            messages.warning(request, f"The Incoming {incoming} reads everything on every run: on a schedule "
                                      "that costs more API calls than incremental reads. Tick Incremental on it.")
        return redirect(route)
    status = 400 if request.method == "POST" else 200
    return render(request, "connections/routes/form.html", {"form": form, "route": None}, status=status)


@editor_required
def route_edit(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_route_for_user(request, pk, write=True)
    form = RouteForm(request.POST or None, instance=route)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Route {route.name} saved.")
        return redirect(route)
    status = 400 if request.method == "POST" else 200
    return render(request, "connections/routes/form.html", {"form": form, "route": route}, status=status)


@viewer_required
@require_GET
def route_detail(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_route_for_user(request, pk)
    status = _status_context(route)  # before the runs table: see route_status
    runs = RouteRun.number_runs(list(route.runs.select_related("run")[:10]))
    transformers = route.ordered_transformers()
    # The tester's input: the last entity this route read (the data a consultant wants to try the chain on).
    sample, sample_note = "{}", ""
    if transformers:
        try:
            source = tester_sources.route_last_task_input(route)
            sample, sample_note = source.text, source.note
        except tester_sources.NoSource as missing:
            sample_note = missing.message
    return render(request, "connections/routes/detail.html", {
        **status, "runs": runs, "transformers": transformers,
        "can_edit": can_edit(request.user), "sample": sample, "sample_note": sample_note,
        "next_fires": route.next_fires(), "last_fire": route.last_fire(), "site_time_zone": settings.TIME_ZONE,
    })


@viewer_required
@require_GET
def route_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The live counters of the latest run (htmx polls this while the run is active)."""
    route = get_route_for_user(request, pk)
    # The runs table below updates out of band with the counters. Read after the counters: a run that ends between
    # the two reads then stops the polling only with its end shown in the table too (read before, the table kept
    # "Publishing" for good).
    status = _status_context(route)
    runs = RouteRun.number_runs(list(route.runs.select_related("run")[:10]))
    return render(request, "connections/routes/_status.html", {**status, "oob_runs": runs})


@editor_required
@require_POST
def route_delete(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_route_for_user(request, pk, write=True)
    if route.active_run() is not None:
        messages.error(request, f"{route.name} is running; wait until its run ends.")
        return redirect(route)
    name = route.name
    route.delete()
    messages.success(request, f"Route {name} deleted, with its schedule.")
    return redirect("connections:route_list")


@editor_required
@require_POST
def route_run(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_route_for_user(request, pk, write=True)
    try:
        route_run = routing.start_route_run(route, trigger=TriggerSource.MANUAL, user=request.user)
    except routing.RouteBusy as busy:
        messages.warning(request, f"Not started: {busy}")
    else:
        record(AuditEntry.Action.RUN, obj=route, request=request, message=f"Run {route_run.pk} started by hand")
        messages.success(request, f"Run {route_run.pk} of {route.name} started.")
    return redirect(route)


DRY_RUN_LIMITS = (5, 10, 25)


@editor_required
def route_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the Incoming's sample through the transformers and show what would be published; writes nothing.

    A page of its own (GET, reloadable, linkable): it only reads from the source, like a sample. A POST (an
    old form) is sent on to that page.
    """
    route = get_route_for_user(request, pk)
    params = request.POST if request.method == "POST" else request.GET
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else DRY_RUN_LIMITS[1]
    limit = min(max(limit, 1), DRY_RUN_LIMITS[-1])
    if request.method == "POST":
        return redirect(f"{reverse('connections:route_dry_run', args=[route.pk])}?limit={limit}", permanent=False)
    error = ""
    rows: list[dict[str, object]] = []
    try:
        rows = routing.dry_run(route, limit=limit)
    except Exception as exc:  # shown to the user: a dry run must explain why it could not read
        logger.warning("dry run of route %s failed: %s", route.pk, exc)
        error = str(exc) or exc.__class__.__name__
    return render(request, "connections/routes/dry_run.html",
                  {"route": route, "rows": rows, "error": error, "limit": limit, "limits": DRY_RUN_LIMITS})
