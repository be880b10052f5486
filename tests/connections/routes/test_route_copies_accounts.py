"""Acceptance against a sandbox of its own: a route copies Accounts from division A into division B.

Every account arrives once; a second run with nothing changed publishes nothing (the storage filter);
after 20 changes in A exactly 20 updates; with dropped answers and Dutch validation 500s injected on
creates, nothing is duplicated, every validation error is a Failed task with Exact's message, and
everything else is Finished.
"""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from connections.models import SourceIdMap, Task
from exact_online.client_type import api_for
from tests.fixtures.sandbox import grant_client

from .sandbox_support import accounts, copy_route, run_inline


@pytest.mark.django_db
def test_route_copies_accounts_once_then_only_changes(own_sandbox):
    source, target = own_sandbox.divisions
    client = grant_client(own_sandbox, "copy", unlimited=True)
    route = copy_route(client, source, target, reference_field="SearchCode")  # counted by it
    in_a = accounts(client, source)
    before_b = accounts(client, target)

    first = run_inline(route)
    tasks = Task.objects.filter(run_id=first.run_id)
    assert tasks.count() == len(in_a)
    assert set(tasks.values_list("status", flat=True)) == {"finished"}
    after_b = accounts(client, target)
    assert len(after_b) == len(before_b) + len(in_a)
    refs = {route.outgoing.idempotency_reference(t.identifier, t.pk) for t in tasks}
    copies = Counter(row["SearchCode"] for row in after_b if row.get("SearchCode") in refs)
    assert len(copies) == len(in_a) and max(copies.values()) == 1  # every account arrived exactly once
    assert SourceIdMap.objects.filter(outgoing=route.outgoing).count() == len(in_a)

    out = StringIO()
    call_command("run_route", str(route.pk), stdout=out)  # the command runs the same functions as a worker
    second = route.runs.first()
    second_tasks = Task.objects.filter(run_id=second.run_id)
    # Nothing changed: nothing published; every entity is a Skipped task that says why.
    assert second_tasks.count() == len(in_a) == second.run.tasks_skipped
    assert set(second_tasks.values_list("status", flat=True)) == {"skipped"}
    assert all(t.skip_reason and t.request is None for t in second_tasks)
    assert f"Run {second.pk} of {route.name}: Succeeded" in out.getvalue()

    api = api_for(client)
    changed = in_a[:20]
    for row in changed:
        api.request("PUT", f"crm/Accounts(guid'{row['ID']}')", division=source, json={"City": "Zwolle-20"})
    third = run_inline(route)
    tasks = Task.objects.filter(run_id=third.run_id).exclude(status="skipped")
    assert tasks.count() == 20
    assert set(tasks.values_list("status", flat=True)) == {"finished"}
    assert Task.objects.filter(run_id=third.run_id, status="skipped").count() == len(in_a) - 20
    assert all(t.request["method"] == "PUT" for t in tasks)  # updates through the id map, no creates
    final_b = accounts(client, target)
    assert len(final_b) == len(after_b)
    assert sum(1 for row in final_b if row.get("City") == "Zwolle-20") == 20


@pytest.mark.django_db
def test_faults_on_creates_never_duplicate(own_sandbox):
    source, target = own_sandbox.divisions
    client = grant_client(own_sandbox, "faults", unlimited=True)
    own_sandbox.generate("Accounts", 150, source)
    route = copy_route(client, source, target, name="copy with faults", reference_field="SearchCode")
    in_a = accounts(client, source)
    before_b = accounts(client, target)
    rule = {"path": f"{target}/crm/Accounts$", "method": "POST"}
    own_sandbox.set_faults({**rule, "drop_rate": 0.10, "drop_mode": "close"}, {**rule, "validation_500_rate": 0.05})
    try:
        route_run = run_inline(route, rounds=12)
    finally:
        own_sandbox.clear_faults()
    tasks = Task.objects.filter(run_id=route_run.run_id)
    statuses = Counter(tasks.values_list("status", flat=True))
    assert statuses["failed"] > 0, "the injected validation errors must show as failed tasks"
    assert set(statuses) <= {"finished", "failed"}
    for task in tasks.filter(status="failed"):
        assert "Ongeldige referentie" in task.error  # Exact's own (Dutch) message
        assert task.attempts == 1  # permanent: never retried
    dropped = [t for t in tasks.filter(status="finished")
               if any("looking it up" in line["message"] for line in t.log)]
    assert dropped, "some answers were dropped and recovered by the look-up"
    after_b = accounts(client, target)
    refs = {route.outgoing.idempotency_reference(t.identifier, t.pk) for t in tasks}
    copies = Counter(row["SearchCode"] for row in after_b if row.get("SearchCode") in refs)
    assert max(copies.values()) == 1  # no duplicate arrived
    assert len(copies) == statuses["finished"]
    assert len(after_b) - len(before_b) == statuses["finished"] == len(in_a) - statuses["failed"]
