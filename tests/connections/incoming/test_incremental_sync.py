"""Incremental reads: after 50 changes the next run reads exactly those 50 (sync Timestamp and Modified cursors)."""

from __future__ import annotations

import pytest

from connections.flow.read import execute_incoming_run
from connections.models import IncomingCursor, Run, Task
from exact_online.client_type import api_for

from .conftest import DIVISION, make_incoming

pytestmark = pytest.mark.django_db(transaction=True)


def read(incoming) -> Run:
    run, _ = Run.enqueue(incoming)
    done = execute_incoming_run(run.pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    return done


def change_accounts(client, count: int, *, skip: int) -> set[str]:
    api = api_for(client)
    rows = api.get("crm/Accounts", division=DIVISION, params={"$select": "ID", "$top": str(count),
                                                                "$skip": str(skip)})["d"]["results"]
    changed = set()
    for row in rows:
        api.request("PUT", f"crm/Accounts(guid'{row['ID']}')", division=DIVISION, json={"Name": f"Changed {skip}"})
        changed.add(row["ID"])
    assert len(changed) == count
    return changed


def identifiers(run: Run) -> set[str]:
    values = list(Task.objects.filter(run=run).values_list("identifier", flat=True))
    assert len(values) == len(set(values)), "a row was read twice"
    return set(values)


def test_sync_timestamp_cursor_reads_exactly_the_changes(exact_client):
    incoming = make_incoming(exact_client, incremental=True, query={"$select": "ID,Name"}, name="sync inc")
    first = read(incoming)
    assert first.summary[str(DIVISION)]["endpoint"] == "sync/CRM/Accounts"
    assert first.entities_read >= 10_000
    cursor = IncomingCursor.objects.get(incoming=incoming, division=DIVISION)
    assert cursor.kind == "timestamp" and int(cursor.value) > 1

    changed = change_accounts(exact_client, 50, skip=100)
    second = read(incoming)
    assert identifiers(second) == changed
    assert second.api_calls == 1
    assert int(IncomingCursor.objects.get(pk=cursor.pk).value) > int(cursor.value)

    third = read(incoming)
    assert third.entities_read == 0 and third.tasks_created == 0


def test_modified_cursor_with_overlap_reads_exactly_the_changes_once(exact_client):
    # bulk/CRM/Accounts has no Timestamp: it reads with a Modified cursor (as every standard endpoint does)
    incoming = make_incoming(exact_client, incremental=True, endpoint="bulk", query={"$select": "ID,Name"},
                             name="modified inc")
    assert read(incoming).entities_read >= 10_000
    cursor = IncomingCursor.objects.get(incoming=incoming, division=DIVISION)
    assert cursor.kind == "modified" and cursor.seen_keys

    changed = change_accounts(exact_client, 50, skip=300)
    second = read(incoming)
    assert identifiers(second) == changed  # the rows at the old boundary came again (ge) and were dropped
    assert second.log_entries.filter(message__contains="Modified+ge+datetime").exists()

    third = read(incoming)
    # only the boundary rows of the second run come back, and they are dropped as already read
    assert third.tasks_created == 0 and third.summary[str(DIVISION)]["dropped"] >= 1


def test_a_user_can_reset_the_cursor_to_read_everything_again(exact_client, editor_client):
    from django.urls import reverse

    incoming = make_incoming(exact_client, incremental=True, query={"$select": "ID"}, name="reset me")
    read(incoming)
    assert incoming.cursors.exists()
    response = editor_client.post(reverse("connections:incoming_cursor_reset", args=[incoming.pk]),
                                  {"division": DIVISION})
    assert response.status_code == 302 and not incoming.cursors.exists()
    assert read(incoming).entities_read >= 10_000


def test_the_request_transformer_puts_the_cursor_into_the_filter(exact_client):
    from connections.models import Transformer

    transformer = Transformer.objects.create(name="modified since last run", steps=[
        {"type": "set_value", "params": {"path": "query.$filter", "template": "&{cursor.filter}"}},
    ])
    incoming = make_incoming(exact_client, endpoint="bulk", query={"$select": "ID,Name"}, name="transformed",
                             transformer=transformer)
    first = read(incoming)  # no cursor yet: the transformer writes an empty filter, everything is read
    assert first.entities_read >= 10_000
    changed = change_accounts(exact_client, 5, skip=500)
    second = read(incoming)
    log = "\n".join(second.log_entries.values_list("message", flat=True))
    assert "%24filter=Modified+ge+datetime" in log or "$filter=Modified+ge+datetime" in log
    assert changed <= identifiers(second)
    assert second.entities_read < 1000


def test_fan_out_over_all_divisions_of_the_grant_each_with_its_own_cursor(exact_client):
    incoming = make_incoming(exact_client, incremental=True, query={"$select": "ID"}, name="all divisions")
    incoming.config = {**incoming.config, "divisions": "all", "division_codes": []}
    incoming.save()
    divisions = sorted(row["code"] for row in exact_client.exact_access.divisions)
    assert len(divisions) >= 2
    run = read(incoming)
    assert sorted(int(d) for d in run.summary) == divisions
    cursors = {c.division: c for c in IncomingCursor.objects.filter(incoming=incoming)}
    assert sorted(cursors) == divisions and all(c.kind == "timestamp" for c in cursors.values())
    per_division = {d: Task.objects.filter(run=run, division=d).count() for d in divisions}
    assert all(per_division.values()) and sum(per_division.values()) == run.entities_read
