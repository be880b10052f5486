"""Defaults a form can infer from the data it offers (no guessing beyond that)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django import forms

__all__ = ["preselect_only_choice"]


def preselect_only_choice(field: forms.Field, initial: MutableMapping[str, Any], name: str) -> None:
    """A model choice with exactly one option (one HTTP client) is chosen already on a new form."""
    queryset = getattr(field, "queryset", None)
    if queryset is None or name in initial:
        return
    first_two = list(queryset[:2])
    if len(first_two) == 1:
        initial[name] = first_two[0].pk
