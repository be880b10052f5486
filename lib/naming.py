"""Names for copies ("Copy of X", then "Copy of X (2)", ...) and stable keys ("x", "x-2"...): the first free one."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.text import slugify

__all__ = ["free_copy_name", "free_key"]


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


def free_key(queryset: QuerySet[Any], name: str, *, field: str = "key", max_length: int = 100) -> str:
    """A slug of ``name`` ("Exact Online sandbox" -> "exact-online-sandbox", "-2", "-3"... when taken)."""
    base = (slugify(name) or "item")[: max_length - 6]
    candidate, number = base, 1
    while queryset.filter(**{field: candidate}).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate
