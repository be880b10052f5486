"""Names for copies: "Copy of X", then "Copy of X (2)", ... — the first one free in a queryset."""

from __future__ import annotations

from typing import Any

__all__ = ["free_copy_name"]


def free_copy_name(queryset: Any, name: str, *, max_length: int, field: str = "name") -> str:
    """The first "Copy of NAME[ (n)]" not taken in ``queryset`` (by ``field``), within ``max_length``."""
    base = f"Copy of {name}"[: max_length - 10]
    candidate, number = base, 1
    while queryset.filter(**{field: candidate}).exists():
        number += 1
        candidate = f"{base} ({number})"
    return candidate
