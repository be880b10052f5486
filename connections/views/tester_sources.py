"""The tester's sources: fill the tester's input (#tester-input) from real data instead of pasting it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import can_edit, get_for_user, viewer_required
from lib.htmx import is_htmx

from .. import tester_sources
from ..models import Incoming, Outgoing, Route

__all__ = ["tester_source"]

MESSAGE_TEMPLATE = "connections/transformers/_tester_source_message.html"
INPUT_TEMPLATE = "connections/transformers/_tester_input.html"


def _source_for(request: HttpRequest) -> tester_sources.Source:
    query = request.GET
    if query.get("route", "").isdigit():
        route = get_for_user(request, Route, query["route"])
        return tester_sources.route_last_task_input(route, stage=query.get("stage", "data"))
    if query.get("outgoing", "").isdigit():
        return tester_sources.outgoing_last_input(get_for_user(request, Outgoing, query["outgoing"]))
    if query.get("incoming_request", "").isdigit():
        incoming = get_for_user(request, Incoming.objects.select_related("http_client", "transformer"),
                                query["incoming_request"])
        return tester_sources.incoming_request_parameters(incoming)
    if query.get("incoming", "").isdigit():
        if not can_edit(request.user):  # one real API call against the quota: an Editor's decision
            raise PermissionDenied("Fetch sample needs the Editor role (it makes one API call).")
        incoming = get_for_user(request, Incoming.objects.select_related("http_client", "transformer"),
                                query["incoming"])
        return tester_sources.incoming_sample_entity(incoming)
    raise tester_sources.NoSource("Choose a route or an Incoming to load the input from.")


@viewer_required
@require_GET
def tester_source(request: HttpRequest) -> HttpResponse:
    """The tester's input from ``?route=<id>[&stage=transformed]``, ``?outgoing=<id>``, ``?incoming_request=<id>``
    or ``?incoming=<id>`` (Fetch sample: one API call, Editors only).

    htmx gets the input textarea (swap it whole: a textarea the user typed in ignores a new inner text) and the
    note out of band; a message when there is nothing replaces only the note. Others get the JSON text itself.
    """
    try:
        source = _source_for(request)
    except tester_sources.NoSource as missing:
        if is_htmx(request):
            response = render(request, MESSAGE_TEMPLATE, {"message": missing.message, "level": "warning"})
            response["HX-Retarget"] = "#tester-source-message"
            response["HX-Reswap"] = "outerHTML"
            return response
        return HttpResponse(missing.message, status=404, content_type="text/plain; charset=utf-8")
    if is_htmx(request):
        return render(request, INPUT_TEMPLATE, {"input_text": source.text, "note": source.note, "oob": True})
    return HttpResponse(source.text, content_type="application/json; charset=utf-8")
