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
