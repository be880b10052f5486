"""Connections → Incoming: list, create, edit, duplicate, delete; URL preview and Fetch sample (htmx); Run now;
cursor reset and rewind."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEntry
from audit.recording import record
from dashboard.access import AuthedRequest, can_edit, editor_required, get_for_user, viewer_required
from dashboard.editing import create_or_edit
from lib.naming import save_copy

from .. import tester_sources
from ..flow.read import request_hook_for, subscriber_for
from ..forms.incoming import IncomingForm
from ..models import Incoming, IncomingCursor, Run, TriggerSource
from ..subscribers import ReadError

__all__ = [
    "incoming_create", "incoming_cursor_reset", "incoming_delete", "incoming_detail", "incoming_duplicate",
    "incoming_edit", "incoming_fields", "incoming_list", "incoming_preview", "incoming_run", "incoming_sample",
]


def get_incoming_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Incoming:
    return get_for_user(request, Incoming.objects.select_related("http_client", "transformer"), pk, write=write)


@viewer_required
@require_GET
def incoming_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    incomings = Incoming.objects.select_related("http_client")
    if q:
        incomings = incomings.filter(Q(name__icontains=q) | Q(config__entity__icontains=q))
    page = Paginator(incomings, 50).get_page(request.GET.get("page"))
    last_runs: dict[int | None, Run] = {}
    for run in Run.objects.filter(incoming__in=[i.pk for i in page]).order_by("incoming_id", "-created_at", "-pk"):
        last_runs.setdefault(run.incoming_id, run)
    rows = [(incoming, last_runs.get(incoming.pk)) for incoming in page]
    return render(request, "connections/incoming/list.html", {
        "rows": rows, "page": page, "q": q, "can_edit": can_edit(request.user),
    })


FORM_TEMPLATE = "connections/incoming/form.html"


@editor_required
def incoming_create(request: HttpRequest) -> HttpResponse:
    form = IncomingForm(request.POST) if request.method == "POST" else IncomingForm(initial=request.GET.dict() or None)
    return create_or_edit(request, form, template=FORM_TEMPLATE, noun="Incoming", instance=None,
                          context_name="incoming")


@editor_required
def incoming_edit(request: HttpRequest, pk: int) -> HttpResponse:
    incoming = get_incoming_for_user(request, pk, write=True)
    form = IncomingForm(request.POST if request.method == "POST" else None, instance=incoming)
    return create_or_edit(request, form, template=FORM_TEMPLATE, noun="Incoming", instance=incoming,
                          context_name="incoming")


def _form_from_request(request: HttpRequest) -> IncomingForm:
    data = request.POST if request.method == "POST" else request.GET
    pk = data.get("incoming_pk")
    instance = Incoming.objects.filter(pk=pk).select_related("http_client").first() if pk else None
    return IncomingForm(data, instance=instance)


def _request_errors(form: IncomingForm) -> list[str]:
    """The form's errors that concern the request (the name does not)."""
    form.is_valid()
    return [f"{form.fields[name].label if name in form.fields else 'Request'}: {message}"
            for name, errors in form.errors.items() if name != "name" for message in errors]


@editor_required
@require_GET
def incoming_fields(request: HttpRequest) -> HttpResponse:
    """htmx: the subscriber's block of the form (entity picker and its details) for the edited values."""
    form = _form_from_request(request)
    template = form.subscriber_cls.form_template if form.subscriber_cls else None
    return render(request, template or "connections/incoming/_subscriber_fields.html", {"form": form})


@editor_required
@require_GET
def incoming_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the final request URL(s) for the values in the form, or the reasons it would be refused."""
    form = _form_from_request(request)
    if "entity" in form.fields and not form.data.get("entity"):
        # Nothing to show before an entity is chosen: a hint rather than a list of errors.
        return render(request, "connections/incoming/_preview.html",
                      {"specs": [], "errors": [], "hint": "Choose an entity to see the request URL."})
    errors = _request_errors(form)
    specs: list[Any] = []
    if not errors and form.subscriber_cls is not None:
        incoming = form.unsaved_incoming()
        try:
            hook = request_hook_for(incoming) if incoming.transformer_id else None
            specs = form.subscriber_cls(incoming).preview(request_hook=hook, cursors=_cursors(incoming))
        except ReadError as exc:
            errors = [exc.message]
    return render(request, "connections/incoming/_preview.html", {"specs": specs, "errors": errors})


def _cursors(incoming: Incoming) -> dict[int, dict[str, Any]]:
    if not incoming.pk or not incoming.incremental:
        return {}
    return {c.division: c.as_dict() for c in incoming.cursors.all()}


@editor_required
@require_POST
def incoming_sample(request: HttpRequest) -> HttpResponse:
    """htmx: run the request once and show the first entities (from the form, or a saved Incoming)."""
    saved = request.POST.get("incoming")
    incoming: Incoming | None
    if saved and "subscriber" not in request.POST:
        incoming = get_incoming_for_user(request, int(saved))
        errors: list[str] = []
    else:
        form = _form_from_request(request)
        errors = _request_errors(form)
        incoming = form.unsaved_incoming() if not errors else None
    context: dict[str, Any] = {"errors": errors}
    if incoming is not None and not errors:
        try:
            subscriber = subscriber_for(incoming)  # with its ${NAME} variables filled in, as a run reads
            sample = subscriber.fetch_sample(limit=5, request_hook=request_hook_for(incoming))
            context["sample"] = sample
        except ReadError as exc:
            context["errors"] = [exc.message]
    return render(request, "connections/incoming/_sample.html", context)


@viewer_required
@require_GET
def incoming_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incoming = get_incoming_for_user(request, pk)
    runs = Paginator(incoming.runs.all(), 20).get_page(request.GET.get("page"))
    specs: list[Any] = []
    preview_error = ""
    if incoming.subscriber_class is not None:
        try:
            specs = incoming.subscriber_class(incoming).preview(
                request_hook=request_hook_for(incoming), cursors=_cursors(incoming))
        except (ReadError, ValueError) as exc:
            preview_error = str(exc)
    return render(request, "connections/incoming/detail.html", {
        **_tester_context(incoming),
        "incoming": incoming, "runs": runs, "cursors": incoming.cursors.all(), "specs": specs,
        "preview_error": preview_error, "can_edit": can_edit(request.user), "active_run": incoming.active_run(),
        "routes": list(incoming.routes.all()),
    })


def _tester_context(incoming: Incoming) -> dict[str, str]:
    """The request transformer's tester input: the request parameters it receives on the next run."""
    if incoming.transformer_id is None:
        return {}
    try:
        source = tester_sources.incoming_request_parameters(incoming)
    except tester_sources.NoSource as missing:
        return {"tester_sample": "{}", "tester_note": missing.message}
    return {"tester_sample": source.text, "tester_note": source.note}


@editor_required
@require_POST
def incoming_delete(request: HttpRequest, pk: int) -> HttpResponse:
    incoming = get_incoming_for_user(request, pk, write=True)
    routes = list(incoming.routes.all())
    if routes:
        messages.error(request, f"Incoming {incoming.name} is used by route(s) {', '.join(map(str, routes))}; "
                                "remove it from them first.")
        return redirect(incoming)
    name = incoming.name
    incoming.delete()
    messages.success(request, f"Incoming {name} deleted, with its runs and cursors.")
    return redirect("connections:incoming_list")


@editor_required
@require_POST
def incoming_duplicate(request: AuthedRequest, pk: int) -> HttpResponse:
    incoming = get_incoming_for_user(request, pk, write=True)
    copy = save_copy(incoming, created_by=request.user)
    messages.success(request, f"Incoming {incoming.name} duplicated as {copy.name}.")
    return redirect("connections:incoming_edit", copy.pk)


@editor_required
@require_POST
def incoming_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Run now: queue a run (never a second one while one is going) and hand it to a worker after commit."""
    from ..tasks import enqueue_incoming_run

    incoming = get_incoming_for_user(request, pk, write=True)
    run, created = Run.enqueue(incoming, trigger=TriggerSource.MANUAL, user=request.user)
    if created:
        enqueue_incoming_run(run)
        record(AuditEntry.Action.RUN, obj=incoming, request=request, message=f"Run {run.pk} (preview) started by hand")
        messages.success(request, f"Run {run.pk} of {incoming.name} queued.")
    else:
        messages.warning(request, f"Run {run.pk} of {incoming.name} is already {run.get_status_display().lower()}; "
                                  "not started twice.")
    return redirect(run)


@editor_required
@require_POST
def incoming_cursor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Reset (forget) or rewind (set the value of) the cursor of one division, or reset all."""
    incoming = get_incoming_for_user(request, pk, write=True)
    cursors = incoming.cursors.all()
    division = request.POST.get("division")
    if division not in (None, ""):
        cursors = cursors.filter(division=int(division))
    value = request.POST.get("value", "").strip()
    if value:
        cursor = cursors.first()
        if cursor is None:
            messages.error(request, "There is no cursor to rewind.")
            return redirect(incoming)
        if cursor.kind == IncomingCursor.Kind.TIMESTAMP and not value.isdigit():
            messages.error(request, "A Timestamp cursor is a whole number.")
            return redirect(incoming)
        if cursor.kind == IncomingCursor.Kind.MODIFIED:
            stored = IncomingCursor.modified_value(value)
            if stored is None:
                messages.error(request, "Give the Modified cursor as a date and time, e.g. 2024-01-31T12:00:00.")
                return redirect(incoming)
            value = stored
        IncomingCursor.objects.filter(pk=cursor.pk).update(value=value, seen_keys=[])
        messages.success(request, f"Cursor of division {cursor.division} rewound; the next run starts there.")
    else:
        count = cursors.count()
        cursors.delete()
        messages.success(request, f"{count} cursor(s) reset; the next run reads everything.")
    return redirect(incoming)
