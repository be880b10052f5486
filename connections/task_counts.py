"""Counting tasks without counting a million of them: exact up to a cap, the database's estimate above it.

The Tasks page shows how many tasks match, per status. ``COUNT(*)`` over a million rows costs a second on
PostgreSQL; people need the exact number when it is small (a dozen failed tasks) and only its size when it
is large. So each status is counted up to ``DASH_TASK_COUNT_CAP`` rows (an index range scan that stops
there), and a status with more is shown as PostgreSQL's planner estimate ("≈ 812,000"), or as "1,000+"
where the database gives no estimate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from .models import Task

__all__ = ["TaskCount", "count_by_status", "count_cap", "estimate_rows"]


@dataclass(frozen=True)
class TaskCount:
    """A number of tasks: exact, or at least ``value`` (``estimated``: the planner's guess, else a cap)."""

    value: int
    exact: bool = True
    estimated: bool = False

    def __str__(self) -> str:
        if self.exact:
            return f"{self.value:,}"
        return f"≈ {self.value:,}" if self.estimated else f"{self.value:,}+"

    def __add__(self, other: TaskCount) -> TaskCount:
        return TaskCount(self.value + other.value, self.exact and other.exact, self.estimated or other.estimated)

    def __bool__(self) -> bool:
        return self.value > 0


def count_cap() -> int:
    return int(getattr(settings, "TASK_COUNT_CAP", 1_000))


def estimate_rows(tasks: QuerySet[Task]) -> int | None:
    """PostgreSQL's estimate of how many rows ``tasks`` holds (no rows are read), or None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    plan = json.loads(tasks.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def count_by_status(tasks: QuerySet[Task], statuses: list[str] | None = None, *,
                    cap: int | None = None, lower_bounds: bool = False) -> dict[str, TaskCount]:
    """How many of ``tasks`` are in each status (``statuses``, default all): exact up to ``cap``.

    One query first reads the statuses of at most ``cap + 1`` matching tasks: when that is all of them, every
    count is exact. Otherwise each status is counted up to the cap and above it estimated; with
    ``lower_bounds`` (a filter the planner cannot estimate per status, such as a text search) the first
    query's counts are shown as what they are, lower bounds ("240+").
    """
    cap = count_cap() if cap is None else cap
    wanted = statuses if statuses is not None else list(Task.Status.values)
    scope = tasks.filter(status__in=wanted).order_by()
    sample: dict[str, int] = {}
    for status in scope.values_list("status", flat=True)[:cap + 1]:
        sample[status] = sample.get(status, 0) + 1
    if sum(sample.values()) <= cap:
        return {status: TaskCount(sample.get(status, 0)) for status in wanted}
    if lower_bounds:
        return {status: TaskCount(sample.get(status, 0), exact=not sample.get(status)) for status in wanted
                if sample.get(status)} | {status: TaskCount(0) for status in wanted if not sample.get(status)}
    result: dict[str, TaskCount] = {}
    for status in wanted:
        matching = tasks.filter(status=status).order_by()
        found = matching.values("pk")[:cap + 1].count()
        if found <= cap:
            result[status] = TaskCount(found)
            continue
        guess = estimate_rows(matching)
        result[status] = (TaskCount(max(cap + 1, guess), exact=False, estimated=True) if guess
                          else TaskCount(cap, exact=False))
    return result
