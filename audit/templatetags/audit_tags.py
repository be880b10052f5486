"""Showing audit diffs: a value as short JSON, and the "changed" marker of a secret."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def compact(value: Any, limit: int = 300) -> str:
    """A diff value in one line of JSON (strings as they are), cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def is_secret_change(change: Any) -> bool:
    return change == "changed"


@register.inclusion_tag("audit/_history_links.html", takes_context=True)
def history_links(context: Any, obj: Any) -> dict[str, Any]:
    """An object page's way into its history: its versions (connections) and, for administrators, its audit trail."""
    from dashboard.access import is_admin

    from ..versions import VERSIONED

    label = obj._meta.label_lower
    request = context.get("request")
    return {"obj": obj, "label": label, "versioned": label in VERSIONED,
            "is_admin": request is not None and is_admin(request.user)}


@register.inclusion_tag("audit/_used_versions.html")
def used_versions(route_run: Any) -> dict[str, Any]:
    """The versions of the route, its Incoming, Outgoing and transformers a route run used (links to each)."""
    from ..models import RunVersions
    from ..versions import versions_used

    kept = RunVersions.objects.filter(route_run=route_run).first() if route_run is not None else None
    return {"rows": versions_used(kept) if kept is not None else []}
