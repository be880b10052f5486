"""Where the transformer tester's input comes from: a route's last task, an Outgoing's last published task,
an Incoming's request parameters, or one entity of an Incoming's Fetch sample.

Each function reuses the code path the real thing runs (the reader's request hook, the subscriber's
``preview``/``fetch_sample``, the publisher's ``split_deferred``), so that what the tester is given is
what the transformer will receive. When there is nothing to give, they raise :class:`NoSource` with a
message for the person at the screen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .flow.read import request_hook_for, subscriber_for
from .flow.transform import split_deferred
from .models import Incoming, Outgoing, Route, Task
from .subscribers import ReadError

__all__ = [
    "NoSource", "Source", "incoming_request_parameters", "incoming_sample_entity", "outgoing_last_input",
    "route_last_task_input",
]


class NoSource(Exception):
    """There is nothing to load (no task yet, no request, the outside system refused): ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Source:
    """A value for the tester's input and a short note on where it came from."""

    value: Any
    note: str

    @property
    def text(self) -> str:
        return json.dumps(self.value, indent=2, ensure_ascii=False, default=str)


def route_last_task_input(route: Route, *, stage: str = "data") -> Source:
    """The last task of ``route``: its data as read (the route's transformers' input), or, for
    ``stage="transformed"``, what the route's transformers made of it (the Outgoing's input)."""
    task = Task.objects.filter(run__route_run__route=route).order_by("-pk").first()
    if task is None:
        raise NoSource(f"Route {route.name} has no task yet: run it (or a dry run) first.")
    if stage != "transformed":
        return Source(task.data, f"Task #{task.pk} of route {route.name}, as read")
    if task.transformed is None:
        why = f" ({task.get_status_display().lower()}: {task.error})" if task.error else ""
        raise NoSource(f"Task #{task.pk} of route {route.name} has no transformed data{why}.")
    value, _deferred = split_deferred(task.transformed)
    return Source(value, f"Task #{task.pk} of route {route.name}, after the route's transformers")


def outgoing_last_input(outgoing: Outgoing) -> Source:
    """What the Outgoing's transformer received for the last task published through it (a request was built)."""
    task = (Task.objects.filter(run__route_run__route__outgoing=outgoing, request__isnull=False)
            .order_by("-updated_at", "-pk").first())
    if task is None:
        raise NoSource(f"Nothing has been published through {outgoing.name} yet: run a route that writes "
                       "through it first.")
    value, _deferred = split_deferred(task.transformed if task.transformed is not None else task.data)
    return Source(value, f"Task #{task.pk} ({task.get_status_display().lower()}), as handed to {outgoing.name}")


def incoming_request_parameters(incoming: Incoming) -> Source:
    """The ``{"path", "query", "cursor"}`` the Incoming's request transformer receives for its first division,
    captured from the subscriber's own request planning (with the stored cursor, as the reader passes it)."""
    captured: list[dict[str, Any]] = []

    def capture(request: dict[str, Any]) -> dict[str, Any]:
        captured.append(json.loads(json.dumps(request, default=str)))
        return request

    try:
        subscriber = subscriber_for(incoming)
        cursors = {c.division: c.as_dict() for c in incoming.cursors.all()}
        subscriber.preview(request_hook=capture, cursors=cursors)
    except (ReadError, ValueError) as exc:
        raise NoSource(f"The request of {incoming.name} cannot be planned: {getattr(exc, 'message', exc)}") from exc
    if not captured:
        raise NoSource(f"{incoming.name} plans no request that a transformer would see.")
    return Source(captured[0], f"Request parameters of {incoming.name} for its next run (first division)")


def incoming_sample_entity(incoming: Incoming) -> Source:
    """The first entity of one request through the Incoming's subscriber (its Fetch sample: one API call)."""
    try:
        sample = subscriber_for(incoming).fetch_sample(limit=1, request_hook=request_hook_for(incoming))
    except ReadError as exc:
        raise NoSource(f"Fetch sample of {incoming.name} failed: {exc.message}") from exc
    if not sample.entities:
        raise NoSource(f"Fetch sample of {incoming.name}: the request returned no entities ({sample.spec.url}).")
    return Source(sample.entities[0], f"Fetch sample of {incoming.name} (1 API call, {sample.spec.endpoint})")
