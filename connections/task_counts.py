"""Counting tasks without counting a million of them: exact up to a cap, the database's estimate above it.

The Tasks page shows how many tasks match, per status. ``COUNT(*)`` over a million rows costs a second on
PostgreSQL; people need the exact number when it is small (a dozen failed tasks) and only its size when it
is large. So each status is counted up to ``DASH_TASK_COUNT_CAP`` rows (an index range scan that stops
there), and a status with more is shown as PostgreSQL's planner estimate ("≈ 812,000"), or as "1,000+"
where the database gives no estimate.

An estimate is the planner's arithmetic over table statistics that change only when PostgreSQL analyses the
table, yet its ``EXPLAIN`` costs 3–10 ms of planning (the semi-join on the route runs) at every request: so each
estimate is kept ``ESTIMATE_SECONDS`` in this process (no cache round trip, no query), keyed by its query.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.models import QuerySet

from .models import Task

__all__ = [
    "TaskCount", "capped_counts", "clear_estimates", "count_by_status", "count_cap", "estimate_by_status",
    "estimate_rows", "first_matches",
]

ESTIMATE_SECONDS = 60.0
_ESTIMATES_KEPT = 512
_estimates: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}
_estimates_lock = threading.Lock()


def clear_estimates() -> None:
    """Forget the kept estimates (tests; a process that just loaded many tasks)."""
    with _estimates_lock:
        _estimates.clear()


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


def _union(parts: list[QuerySet[Any]], select: str) -> tuple[str, list[Any]]:
    """``parts`` as one ``UNION ALL``: ``select`` (with ``{i}``, the part's index, and ``{sql}``) around each."""
    texts, params = [], []
    for i, part in enumerate(parts):
        sql, part_params = part.query.get_compiler(using=part.db).as_sql()
        texts.append(select.format(i=i, sql=sql))
        params.extend(part_params)
    return " UNION ALL ".join(texts), params


def capped_counts(tasks: QuerySet[Task], statuses: list[str], cap: int) -> dict[str, int]:
    """How many of ``tasks`` are in each of ``statuses``, counting at most ``cap + 1`` each: one query, one index
    range scan per status that stops at the cap."""
    if not statuses:
        return {}
    sql, params = _union([tasks.filter(status=status).order_by().values("pk")[:cap + 1] for status in statuses],
                         "SELECT {i}, COUNT(*) FROM ({sql}) AS capped_{i}")
    with connections[tasks.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = dict(cursor.fetchall())
    return {status: int(found.get(i, 0)) for i, status in enumerate(statuses)}


def estimate_by_status(tasks: QuerySet[Task], statuses: list[str]) -> dict[str, int]:
    """``_estimate_by_status``, kept ``ESTIMATE_SECONDS`` per query (its SQL and parameters)."""
    if connection.vendor != "postgresql" or not statuses:
        return {}
    sql, params = tasks.order_by().values("pk").query.sql_with_params()
    key = (f"{tasks.db}:{','.join(statuses)}:{sql}", repr(params))
    now = time.monotonic()
    kept = _estimates.get(key)
    if kept is not None and kept[0] > now:
        return dict(kept[1])
    found = _estimate_by_status(tasks, statuses)
    with _estimates_lock:
        if len(_estimates) >= _ESTIMATES_KEPT:  # many different filters: start over rather than grow
            _estimates.clear()
        _estimates[key] = (now + ESTIMATE_SECONDS, found)
    return dict(found)


def _estimate_by_status(tasks: QuerySet[Task], statuses: list[str]) -> dict[str, int]:
    """PostgreSQL's estimate of how many of ``tasks`` are in each of ``statuses``, from one ``EXPLAIN`` (each
    status is one branch of a ``UNION ALL``; no rows are read). Planned serially, in the same round trip: under a
    Gather the branches would estimate rows per worker, not in all. Empty elsewhere."""
    if connection.vendor != "postgresql" or not statuses:
        return {}
    if len(statuses) == 1:
        return {statuses[0]: estimate_rows(tasks.filter(status=statuses[0])) or 0}
    sql, params = _union([tasks.filter(status=status).order_by().values("pk") for status in statuses], "({sql})")
    with connections[tasks.db].cursor() as cursor:
        cursor.execute(f"SET max_parallel_workers_per_gather = 0; EXPLAIN (FORMAT JSON) {sql}; "
                       "RESET max_parallel_workers_per_gather", params)
        cursor.nextset()  # the EXPLAIN's rows, after the SET's none
        raw = cursor.fetchone()[0]
        while cursor.nextset():
            pass
    top = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    branches = [plan for plan in top.get("Plans", []) if plan.get("Parent Relationship", "Member") == "Member"]
    if top.get("Node Type") != "Append" or len(branches) != len(statuses):  # another shape: one EXPLAIN each
        return {status: estimate_rows(tasks.filter(status=status)) or 0 for status in statuses}
    return {status: int(branch["Plan Rows"]) for status, branch in zip(statuses, branches, strict=True)}


def count_by_status(tasks: QuerySet[Task], statuses: list[str] | None = None, *,
                    cap: int | None = None, lower_bounds: bool = False,
                    sample: list[str] | None = None) -> dict[str, TaskCount]:
    """How many of ``tasks`` are in each status (``statuses``, default all): exact up to ``cap``.

    One query first reads the statuses of at most ``cap + 1`` matching tasks: when that is all of them, every
    count is exact. Otherwise one query counts each status up to the cap and one ``EXPLAIN`` estimates those
    above it (three queries at most, whatever the number of statuses); with ``lower_bounds`` (a filter the
    planner cannot estimate per status, such as a text search) the first query's counts are shown as what they
    are, lower bounds ("240+"). ``sample``: the statuses of those first ``cap + 1`` tasks when the caller read
    them already (``first_matches``), so the first query is not asked again.
    """
    cap = count_cap() if cap is None else cap
    wanted = statuses if statuses is not None else list(Task.Status.values)
    if sample is None:
        sample = list(tasks.filter(status__in=wanted).order_by().values_list("status", flat=True)[:cap + 1])
    by_status: dict[str, int] = {}
    for status in sample:
        by_status[status] = by_status.get(status, 0) + 1
    return _counts(tasks, wanted, cap, by_status, lower_bounds)


def first_matches(tasks: QuerySet[Task], statuses: list[str] | None = None, *,
                  cap: int | None = None) -> list[tuple[int, str]]:
    """The newest ``cap + 1`` of ``tasks`` in ``statuses`` as (id, status), in the Tasks page's order.

    For a text search one scan serves both the counts (``count_by_status(sample=...)``) and the first pages' ids:
    a rare term's trigram scan is not run twice, and a common one stops after the cap's matches.
    """
    cap = count_cap() if cap is None else cap
    wanted = statuses if statuses is not None else list(Task.Status.values)
    return list(tasks.filter(status__in=wanted).order_by("-created_at", "-pk").values_list("pk", "status")[:cap + 1])


def _counts(tasks: QuerySet[Task], wanted: list[str], cap: int, sample: dict[str, int],
            lower_bounds: bool) -> dict[str, TaskCount]:
    """The counts from the first matches' statuses: all exact, lower bounds, or capped counts and estimates."""
    if sum(sample.values()) <= cap:
        return {status: TaskCount(sample.get(status, 0)) for status in wanted}
    if lower_bounds:
        return {status: TaskCount(sample.get(status, 0), exact=not sample.get(status)) for status in wanted
                if sample.get(status)} | {status: TaskCount(0) for status in wanted if not sample.get(status)}
    found = capped_counts(tasks, wanted, cap)
    over = [status for status in wanted if found[status] > cap]
    guesses = estimate_by_status(tasks, over)
    result = {status: TaskCount(found[status]) for status in wanted if status not in over}
    for status in over:
        guess = guesses.get(status)
        result[status] = (TaskCount(max(cap + 1, guess), exact=False, estimated=True) if guess
                          else TaskCount(cap, exact=False))
    return {status: result[status] for status in wanted}
