"""Runs of an Incoming: the run page (counters, per-division calls, log, tasks), live status, resume."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import can_edit, editor_required, get_for_user, viewer_required
from lib.htmx import is_htmx

from ..models import Run, Task
from ..waits import Waiting, route_run_waiting

__all__ = ["run_detail", "run_resume", "run_status"]


def get_run_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Run:
    return get_for_user(request, Run.objects.select_related("incoming", "resumed_from", "created_by"), pk,
                        write=write)


def _status_context(run: Run) -> dict[str, object]:
    divisions = [{"division": key, **value} for key, value in sorted((run.summary or {}).items())]
    client = run.incoming.http_client if run.incoming is not None else None
    quotas = {str(q.division): q for q in client.quotas()} if client is not None and divisions else {}
    for row in divisions:
        row["per_call"] = round(row.get("records", 0) / row["calls"], 1) if row.get("calls") else 0
        row["page"] = (run.checkpoint or {}).get(row["division"], {}).get("page")
        row["quota"] = quotas.get(row["division"])
    route_run = getattr(run, "route_run", None)
    if route_run is not None:
        waiting = route_run_waiting(route_run)
    else:
        waiting = Waiting(run.wait_reason, run.waiting_until) if run.is_active and run.waiting_until and \
            run.waiting_until > timezone.now() else (Waiting("Waiting for a worker") if run.status == Run.Status.QUEUED
                                                     else None)
    return {"run": run, "divisions": divisions, "waiting": waiting}


@viewer_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run_for_user(request, pk)
    status = request.GET.get("status", "")
    tasks = run.tasks.only("pk", "status", "identifier", "division", "created_at", "error").order_by("pk")
    if status in Task.Status.values:
        tasks = tasks.filter(status=status)
    page = Paginator(tasks, 100).get_page(request.GET.get("page"))
    return render(request, "connections/runs/detail.html", {
        **_status_context(run), "tasks": page, "status": status, "statuses": Task.Status.choices,
        "log": run.log_entries.all()[:500], "can_edit": can_edit(request.user),
    })


@viewer_required
@require_GET
def run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the counters block; it keeps polling only while the run is active.

    When a polled run has ended, the whole page reloads once so that its times, log and tasks show too.
    """
    run = get_run_for_user(request, pk)
    if is_htmx(request) and not run.is_active:
        return HttpResponseClientRefresh()
    return render(request, "connections/runs/_status.html", _status_context(run))


@editor_required
@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Continue a failed (or stalled) run from its checkpoint, in a new run."""
    from ..tasks import enqueue_incoming_run

    run = get_run_for_user(request, pk, write=True)
    if not (run.can_resume or run.status == Run.Status.READING):
        messages.error(request, f"Run {run.pk} is {run.get_status_display().lower()}; there is nothing to resume.")
        return redirect(run)
    if run.incoming is not None and run.incoming.active_run() not in (None, run):
        messages.warning(request, "Another run of this Incoming is going; not started twice.")
        return redirect(run)
    new = run.resume(user=request.user)
    enqueue_incoming_run(new)
    if new.incoming is not None:
        record(AuditEntry.Action.RUN, obj=new.incoming, request=request, message=f"Run {new.pk} resumes run {run.pk}")
    messages.success(request, f"Run {new.pk} resumes run {run.pk} at its next page.")
    return redirect(new)
