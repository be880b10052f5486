"""Dashboard panels: each app registers what it wants to show on the home page.

An app calls ``register_panel`` from its ``AppConfig.ready()`` with a template and a function that
builds the panel's context; the dashboard renders them in ``order``. The dashboard itself knows no
other app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Panel", "build_overview", "register_panel"]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable[[], dict[str, Any]]
    order: int = 100
    wide: bool = False  # spans the whole row (tables); narrow panels sit side by side


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _PANELS[panel.key] = panel


def build_overview() -> list[dict[str, Any]]:
    return [
        {"key": p.key, "title": p.title, "template": p.template, "context": p.context(), "wide": p.wide}
        for p in sorted(_PANELS.values(), key=lambda p: (p.order, p.key))
    ]
