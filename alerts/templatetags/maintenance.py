"""``{% maintenance_note obj %}``: on a route's, task's or client's page, the maintenance window under way
("In maintenance window until 17:00 (reason)") and a link to plan one."""

from __future__ import annotations

from typing import Any

from django import template

from clients.models import HttpClient

from ..maintenance import client_window, route_window

register = template.Library()


@register.inclusion_tag("alerts/_maintenance_note.html", takes_context=True)
def maintenance_note(context: dict[str, Any], obj: Any) -> dict[str, Any]:
    if obj is None:
        return {"resting": None}
    if isinstance(obj, HttpClient):
        resting, param = client_window(obj.pk), "http_client"
    else:
        resting, param = route_window(obj), "route"
    return {"resting": resting, "param": param, "pk": obj.pk, "can_edit": context.get("can_edit", False)}
