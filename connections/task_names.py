"""What a task is called: a label people read (``C0001 – Jansen B.V.``) and a key they search by (``C0001``).

Each Incoming defines both as ``&{Path}`` placeholder templates over the entity it reads (the same
placeholders the transformer steps use). The search columns hold a normalised form (case-folded, spaces
collapsed), indexed, so the Tasks page finds a task by the start of its label or key among millions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .transformers.placeholders import as_text, check_template, render

__all__ = ["TaskNamer", "check_name_template", "normalise", "prefix_range"]

MAX_LENGTH = 255


def normalise(text: str) -> str:
    """The searchable form: case-folded, whitespace collapsed, cut to the column's length."""
    return " ".join(str(text).casefold().split())[:MAX_LENGTH]


def prefix_range(text: str) -> tuple[str, str] | None:
    """``(low, high)`` so that ``low <= key < high`` means "starts with ``text``": a range an index answers."""
    low = normalise(text)
    return (low, low + "\U0010ffff") if low else None


def check_name_template(text: str) -> str | None:
    """Why a label/key template cannot be used (a bad placeholder path), or None."""
    return check_template(text) if text else None


@dataclass(frozen=True)
class TaskNamer:
    """Fills a task's ``label``, ``label_key`` and ``search_key`` from an Incoming's two templates."""

    label_template: str = ""
    key_template: str = ""

    def __call__(self, entity: Any, identifier: str) -> dict[str, str]:
        # Spaces collapsed: Exact pads codes ("      287"), and a label is for reading.
        label = " ".join(as_text(render(self.label_template, entity)).split()) if self.label_template else ""
        label = label[:MAX_LENGTH]
        key = as_text(render(self.key_template, entity)).strip() if self.key_template else identifier
        return {"label": label, "label_key": normalise(label), "search_key": normalise(key)}
