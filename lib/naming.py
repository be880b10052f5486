"""Names for copies ("Copy of X", then "Copy of X (2)", ...) and stable keys ("x", "x-2"...): the first free one;
and the one way to duplicate a named object (``save_copy``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils.text import slugify

__all__ = ["free_copy_name", "free_key", "save_copy"]

M = TypeVar("M", bound=Model)


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


def save_copy(obj: M, *, leave_out: Iterable[str] = (), **changes: Any) -> M:
    """Save a copy of ``obj`` under the first free "Copy of NAME" and return it.

    Every concrete field is copied except the primary key, unique fields (the name is given a free one),
    automatic timestamps and ``leave_out``; ``changes`` (e.g. ``created_by``) override. One way to
    duplicate, so a field added to a model is copied without anyone remembering to.
    """
    model = type(obj)
    skipped = set(leave_out)
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if (field.primary_key or field.name in skipped or field.name == "name" or field.unique
                or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
            continue
        values[field.attname] = getattr(obj, field.attname)
    values["name"] = free_copy_name(model._default_manager.all(), str(getattr(obj, "name", "")))
    values.update(changes)
    return model._default_manager.create(**values)
