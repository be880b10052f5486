"""Maintenance windows: is a route (or an HTTP client it uses) resting now, and until when?

Asked by the scheduled start of a route, by publishing (tasks wait until the window ends) and by the alert
engine (nothing fires for what is in maintenance). One query per question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from .models import MaintenanceWindow

__all__ = ["InMaintenance", "client_window", "route_window", "window_for"]


@dataclass(frozen=True)
class InMaintenance:
    """A window that covers now: until when, and why (shown on runs, tasks and the route page)."""

    window: MaintenanceWindow
    until: datetime

    @property
    def text(self) -> str:
        local = timezone.localtime(self.until)
        when = f"{local:%H:%M}" if local.date() == timezone.localdate() else f"{local:%Y-%m-%d %H:%M}"
        reason = f" ({self.window.reason})" if self.window.reason else ""
        return f"In maintenance window until {when}{reason}"


def window_for(*, route_ids: Iterable[int] = (), client_ids: Iterable[int] = (),
               at: datetime | None = None) -> InMaintenance | None:
    """The window covering ``at`` for any of these routes or clients (the one that ends last), or None."""
    routes = [r for r in route_ids if r]
    clients = [c for c in client_ids if c]
    if not routes and not clients:
        return None
    at = at or timezone.now()
    query = Q(route_id__in=routes) | Q(http_client_id__in=clients)
    found: InMaintenance | None = None
    for window in MaintenanceWindow.objects.filter(query, starts_at__lte=at).exclude(
            repeat=MaintenanceWindow.Repeat.NONE, ends_at__lte=at):
        until = window.active_until(at)
        if until is not None and (found is None or until > found.until):
            found = InMaintenance(window, until)
    return found


def route_window(route: object, at: datetime | None = None) -> InMaintenance | None:
    """The window covering a route now: its own, or one of the HTTP clients its Incoming and Outgoing use."""
    clients = [getattr(getattr(route, "incoming", None), "http_client_id", None),
               getattr(getattr(route, "outgoing", None), "http_client_id", None)]
    return window_for(route_ids=[getattr(route, "pk", 0)], client_ids=[c for c in clients if c], at=at)


def client_window(client_id: int, at: datetime | None = None) -> InMaintenance | None:
    return window_for(client_ids=[client_id], at=at)
