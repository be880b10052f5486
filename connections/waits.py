"""Waiting is not failing: work that must not go on before a moment is deferred to it, with the reason shown.

One small mechanism for every kind of wait (a connector's quota, a maintenance window, ...):

- whoever knows that work cannot go on yet raises :class:`WaitUntil` (``reason``, ``until``): a publisher or
  a subscriber of a connector (the platform does not know why), or the platform itself;
- the platform defers the work to ``until``: a publish batch's tasks go back to Retry with the attempt given
  back (``Task.defer``, ``connections.flow.publish``), a read goes back to Queued and resumes from its
  checkpoint (``Run.wait``, ``connections.flow.read``); short waits are broker countdowns, long ones wait in
  the database until the repair job queues them (``TASK_MAX_COUNTDOWN``). No worker sleeps;
- the run, its route run and each deferred task keep ``wait_reason`` and until when, and the pages say it
  (:func:`route_run_waiting`): "Throttled by Exact Online for division 101002 until 16:09", "Waiting for a
  worker".

The reason is plain text without the time: pages add "until <time>" in the viewer's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.formats import time_format

if TYPE_CHECKING:
    from .models import RouteRun

__all__ = ["WaitUntil", "Waiting", "route_run_waiting", "until_text"]


class WaitUntil(Exception):
    """The work cannot go on before ``until``: not a failure, and not an attempt.

    ``request`` is set when something may have reached the other side in this attempt (a write whose answer
    was lost, before the look-up that would tell): the task looks first next time, and keeps the attempt
    unless ``counted`` is False (an outage: the other side did not answer, and waiting for it is no attempt).

    ``entity_only`` says the wait belongs to the one entity whose call met it (a look-up's answer was lost),
    not to everything after it: a page being read keeps that entity's task for its chain to run again before
    publishing and reads on, so that a flaky system that drops one answer in ten cannot hold a page of many
    look-ups back forever. A used-up quota is not entity-only: every later call would meet it too.
    """

    def __init__(self, reason: str, until: datetime, *, request: dict[str, Any] | None = None,
                 counted: bool | None = None, entity_only: bool = False) -> None:
        super().__init__(f"{reason} until {until.isoformat()}")
        self.reason = reason[:300]
        self.until = until
        self.request = request
        self.counted = request is not None if counted is None else counted
        self.entity_only = entity_only


def until_text(until: datetime) -> str:
    """The time of day in the site's time zone (with the date when it is not today)."""
    local = timezone.localtime(until)
    if local.date() != timezone.localdate():
        return f"{local:%Y-%m-%d} {time_format(local, 'H:i')}"
    return time_format(local, "H:i")


@dataclass(frozen=True)
class Waiting:
    """Why something waits, and until when (``until`` None: until a worker is free)."""

    reason: str
    until: datetime | None = None

    def __str__(self) -> str:
        return f"{self.reason} until {until_text(self.until)}" if self.until else self.reason


def route_run_waiting(route_run: RouteRun, counts: dict[str, int] | None = None,
                      at: datetime | None = None) -> Waiting | None:
    """Why an active route run is not moving now, or None when it is (or is over).

    ``counts`` are its tasks per status (``routing.counters``), when the caller has them.
    """
    if not route_run.is_active:
        return None
    now = at or timezone.now()
    if route_run.waiting_until and route_run.waiting_until > now and route_run.wait_reason:
        return Waiting(route_run.wait_reason, route_run.waiting_until)
    run = route_run.run
    if run is not None and run.waiting_until and run.waiting_until > now and run.wait_reason:
        return Waiting(run.wait_reason, run.waiting_until)
    if run is not None and run.status == run.Status.QUEUED:
        return Waiting("Waiting for a worker")
    if counts is not None and route_run.status == route_run.Status.PUBLISHING and not counts.get("processing") \
            and counts.get("new"):
        return Waiting("Waiting for a worker")
    return None
