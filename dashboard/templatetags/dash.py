"""Template helpers shared by every app: JSON display and status badges with one colour scheme."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

# One colour meaning everywhere (ui.md): green done, blue running/new, amber waiting, red failed, grey off.
_BADGE_COLOURS = {
    "green": {"finished", "granted", "ok", "succeeded", "success", "active", "enabled", "connected"},
    "blue": {"running", "new", "processing", "queued", "started"},
    "amber": {"retry", "waiting", "needs_attention", "stale", "throttled", "pending", "unknown"},
    "red": {"failed", "needs_reconnect", "error", "refused", "revoked", "denied"},
    "grey": {"skipped", "disabled", "not_granted", "never", "cancelled"},
}


@register.filter
def pretty_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.filter
def badge_colour(status: Any) -> str:
    key = str(status).strip().lower().replace(" ", "_").replace("-", "_")
    for colour, names in _BADGE_COLOURS.items():
        if key in names:
            return colour
    return "grey"


@register.inclusion_tag("includes/badge.html")
def status_badge(status: Any, label: str | None = None) -> dict[str, Any]:
    return {"colour": badge_colour(status), "label": label or str(status).replace("_", " ").capitalize()}
