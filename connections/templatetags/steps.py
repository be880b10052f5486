"""Template helpers of the chain editor and tester: step numbers as people count them (from 1)."""

from __future__ import annotations

from typing import Any

from django import template

from connections.transformers.errors import human_location

register = template.Library()


@register.filter
def step_number(location: Any) -> str:
    """``0`` → ``1``; ``2.then.0`` → ``3 › then › 1`` (data stays 0-based)."""
    return human_location(str(location))
