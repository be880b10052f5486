"""The task table's indexes: each one is paid on every task written (issue 14), so none may be redundant."""

from __future__ import annotations

import pytest
from django.db import connection

from connections.models import Task


@pytest.mark.django_db
def test_no_task_index_is_covered_by_another():
    """No b-tree index whose columns lead another one (that one serves its look-ups, a run's cascade delete too),
    and no LIKE index (``varchar_pattern_ops``, PostgreSQL): identifier is only compared for equality."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Task._meta.db_table)
    btrees = {name: tuple(info["columns"]) for name, info in constraints.items()
              if info["index"] and not info["primary_key"] and info.get("type") in ("btree", "idx")
              and all(info["columns"])}
    assert "task_run_status" in btrees and "task_identifier" in btrees  # the ones that stand in for those dropped
    covered = [(name, other) for name, columns in btrees.items() for other, longer in btrees.items()
               if other != name and longer[:len(columns)] == columns and len(longer) > len(columns)]
    assert covered == []
    assert not [name for name in constraints if name.endswith("_like")]
