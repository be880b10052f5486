"""Connections → Outgoing: list, create, edit, duplicate, delete, and the payload template (htmx)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.db.models import Count, ProtectedError, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import AuthedRequest, can_edit, editor_required, get_for_user, viewer_required
from dashboard.editing import create_or_edit
from lib.naming import save_copy

from .. import tester_sources
from ..forms.outgoing import OutgoingForm
from ..models import Outgoing, Task
from ..publishers import PUBLISHERS, get_publisher

__all__ = [
    "outgoing_create", "outgoing_delete", "outgoing_detail", "outgoing_duplicate", "outgoing_edit", "outgoing_list",
    "outgoing_payload_template",
]


def get_outgoing_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Outgoing:
    return get_for_user(request, Outgoing.objects.select_related("http_client", "transformer"), pk, write=write)


@viewer_required
@require_GET
def outgoing_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    outgoings = Outgoing.objects.select_related("http_client").annotate(route_count=Count("routes"))
    if q:
        outgoings = outgoings.filter(Q(name__icontains=q) | Q(entity__icontains=q))
    return render(request, "connections/outgoing/list.html", {
        "outgoings": outgoings, "q": q, "can_edit": can_edit(request.user),
    })


FORM_TEMPLATE = "connections/outgoing/form.html"


@editor_required
def outgoing_create(request: AuthedRequest) -> HttpResponse:
    # htmx re-renders the dependent fields (entity list, reference field) when action or entity change.
    form = OutgoingForm(request.POST) if request.method == "POST" else OutgoingForm(initial=request.GET.dict() or None)
    return create_or_edit(request, form, template=FORM_TEMPLATE, noun="Outgoing", instance=None,
                          context_name="outgoing")


@editor_required
def outgoing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    outgoing = get_outgoing_for_user(request, pk, write=True)
    form = OutgoingForm(request.POST, instance=outgoing) if request.method == "POST" else \
        OutgoingForm(instance=outgoing, initial=request.GET.dict() or None)
    return create_or_edit(request, form, template=FORM_TEMPLATE, noun="Outgoing", instance=outgoing,
                          context_name="outgoing")


@viewer_required
@require_GET
def outgoing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    outgoing = get_outgoing_for_user(request, pk)
    try:
        publisher_label = get_publisher(outgoing.publisher).label
    except LookupError:
        publisher_label = outgoing.publisher
    recent = Task.objects.filter(run__route_run__route__outgoing=outgoing).order_by("-updated_at")[:10]
    tester: dict[str, str] = {}
    if outgoing.transformer_id is not None:  # the transformer's tester, on what it got last
        try:
            source = tester_sources.outgoing_last_input(outgoing)
            tester = {"tester_sample": source.text, "tester_note": source.note}
        except tester_sources.NoSource as missing:
            tester = {"tester_sample": "{}", "tester_note": missing.message}
    return render(request, "connections/outgoing/detail.html", {
        **tester, "outgoing": outgoing, "publisher_label": publisher_label, "routes": outgoing.routes.all(),
        "id_map_count": outgoing.id_map.count(), "recent_tasks": recent, "can_edit": can_edit(request.user),
    })


@editor_required
@require_POST
def outgoing_delete(request: HttpRequest, pk: int) -> HttpResponse:
    outgoing = get_outgoing_for_user(request, pk, write=True)
    try:
        outgoing.delete()
    except ProtectedError:
        names = ", ".join(route.name for route in outgoing.routes.all())
        messages.error(request, f"{outgoing.name} is used by the routes {names}: delete or change those first.")
        return redirect(outgoing)
    messages.success(request, f"Outgoing {outgoing.name} deleted.")
    return redirect("connections:outgoing_list")


@editor_required
@require_POST
def outgoing_duplicate(request: AuthedRequest, pk: int) -> HttpResponse:
    original = get_outgoing_for_user(request, pk, write=True)
    copy = save_copy(original, created_by=request.user,  # a copy gets its own idempotency salt
                     config={k: v for k, v in original.config.items() if k != "reference_salt"})
    messages.success(request, f"Outgoing {original.name} duplicated as {copy.name}.")
    return redirect("connections:outgoing_edit", pk=copy.pk)


@editor_required
@require_GET
def outgoing_payload_template(request: HttpRequest) -> HttpResponse:
    """The Payload textarea filled with a template generated from the catalog (htmx swap target)."""
    kind = request.GET.get("publisher") or PUBLISHERS.first_kind()
    try:
        template = get_publisher(kind).payload_template(action=request.GET.get("action", "create"),
                                                        entity=request.GET.get("entity", ""))
    except LookupError:
        template = {}
    text = json.dumps(template, indent=2, ensure_ascii=False)
    return HttpResponse(format_html(
        '<textarea name="payload" rows="12" spellcheck="false" id="id_payload">{}</textarea>', text))
