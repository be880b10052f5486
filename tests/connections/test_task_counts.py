"""Counting tasks per status: exact up to the cap, a lower bound or an estimate above it (never COUNT(*) of all)."""

from __future__ import annotations

import pytest
from django.db import connection

from connections.models import Run, Task
from connections.task_counts import count_by_status


@pytest.mark.django_db
def test_counts_are_exact_under_the_cap_and_bounded_above_it():
    run = Run.objects.create(status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, status="failed") for _ in range(7)]
                             + [Task(run=run, status="finished") for _ in range(3)])
    tasks = Task.objects.all()
    exact = count_by_status(tasks, cap=20)
    assert (exact["failed"].value, exact["finished"].value, exact["new"].value) == (7, 3, 0)
    assert all(count.exact for count in exact.values()) and str(exact["failed"]) == "7"
    capped = count_by_status(tasks, cap=5)  # above the cap: PostgreSQL's estimate ("≈ 10"), SQLite's "5+"
    failed = capped["failed"]
    assert not failed.exact and str(capped["finished"]) == "3" and capped["finished"].exact
    if connection.vendor == "postgresql":  # the planner's estimate, from one EXPLAIN of every status over the cap
        assert failed.estimated and str(failed) == f"≈ {failed.value:,}" and failed.value > 5
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            before = cursor.fetchone()
            both = count_by_status(tasks, cap=2)  # planned serially for once: the session's setting is kept
            cursor.execute("SHOW max_parallel_workers_per_gather")
            assert cursor.fetchone() == before
        assert both["failed"].estimated and both["finished"].estimated and both["new"].exact
    else:
        assert str(failed) == "5+"
    bounds = count_by_status(tasks, cap=5, lower_bounds=True)  # a text search: what the first rows showed
    assert sum(count.value for count in bounds.values()) == 6 and not any(
        count.exact for count in bounds.values() if count.value)
    assert str(count_by_status(tasks, ["new"], cap=5)["new"]) == "0"
