"""Names for copies: "Copy of X", then "Copy of X (2)", ... — the first one free in a queryset."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

__all__ = ["free_copy_name"]


def free_copy_name(queryset: QuerySet[Any], name: str, *, max_length: int | None = None, field: str = "name") -> str:
    """The first "Copy of NAME[ (n)]" not taken in ``queryset`` (by ``field``), within ``max_length`` (by default
    the field's own)."""
    if max_length is None:
        max_length = getattr(queryset.model._meta.get_field(field), "max_length", None) or 200
    base = f"Copy of {name}"[: max_length - 10]
    candidate, number = base, 1
    while queryset.filter(**{field: candidate}).exists():
        number += 1
        candidate = f"{base} ({number})"
    return candidate
