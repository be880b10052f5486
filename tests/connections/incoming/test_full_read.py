"""A full read of 10,000+ Accounts over the standard and the sync endpoint: every row once, few calls."""

from __future__ import annotations

import pytest

from connections.flow.read import execute_incoming_run
from connections.models import Run, Task
from exact_online.client_type import api_for

from .conftest import DIVISION, make_incoming

pytestmark = pytest.mark.django_db(transaction=True)


def total_accounts(client) -> int:
    body = api_for(client).get("crm/Accounts/$count", division=DIVISION)
    return int(body if not isinstance(body, dict) else body.get("d", body))


def read(incoming) -> Run:
    run, _ = Run.enqueue(incoming)
    return execute_incoming_run(run.pk)


def assert_every_row_once(run: Run, expected: int) -> None:
    assert run.status == Run.Status.SUCCEEDED, run.error
    identifiers = list(Task.objects.filter(run=run).values_list("identifier", flat=True))
    assert len(identifiers) == expected == run.entities_read == run.tasks_created
    assert len(set(identifiers)) == expected and "" not in identifiers


def test_standard_endpoint_pages_of_60_every_row_once(exact_client):
    expected = total_accounts(exact_client)
    assert expected >= 10_000
    run = read(make_incoming(exact_client, endpoint="standard", query={"$select": "ID,Name,Modified"}))
    assert_every_row_once(run, expected)
    assert run.api_calls == run.pages == -(-expected // 60)
    assert run.summary[str(DIVISION)]["endpoint"] == "crm/Accounts"
    assert Task.objects.filter(run=run, status=Task.Status.NEW).count() == expected


def test_sync_endpoint_pages_of_1000_every_row_once(exact_client):
    expected = total_accounts(exact_client)
    run = read(make_incoming(exact_client, endpoint="sync", query={"$select": "ID,Name"}))
    assert_every_row_once(run, expected)
    assert run.api_calls <= -(-expected // 1000) + 1
    assert run.summary[str(DIVISION)]["endpoint"] == "sync/CRM/Accounts"
    sample = Task.objects.filter(run=run).first().data
    assert {"ID", "Name", "Timestamp"} <= set(sample)


def test_automatic_full_read_uses_sync_and_leaves_a_cursor_for_incremental_reads(exact_client):
    expected = total_accounts(exact_client)
    incoming = make_incoming(exact_client)
    run = read(incoming)
    assert_every_row_once(run, expected)
    assert run.summary[str(DIVISION)]["endpoint"] == "sync/CRM/Accounts"
    assert run.api_calls <= -(-expected // 1000) + 1
    assert run.records_per_call > 900
    assert run.log_entries.filter(message__contains="sync/CRM/Accounts").exists()
    # Switched to incremental, the next read goes on from the full read's Timestamp: only what changed since.
    api = api_for(exact_client)
    changed = [row["ID"] for row in api.get("crm/Accounts", division=DIVISION,
                                            params={"$select": "ID", "$top": "3"})["d"]["results"]]
    for key in changed:
        api.request("PUT", f"crm/Accounts(guid'{key}')", division=DIVISION, json={"City": "Zwolle"})
    incoming.incremental = True
    incoming.save()
    again = read(incoming)
    assert again.status == Run.Status.SUCCEEDED, again.error
    assert sorted(Task.objects.filter(run=again).values_list("identifier", flat=True)) == sorted(changed)
    assert again.api_calls == 1


def test_page_cap_and_pagination_off_stop_reading(exact_client):
    capped = read(make_incoming(exact_client, endpoint="standard", page_cap=3, name="capped"))
    assert capped.status == Run.Status.SUCCEEDED and capped.api_calls == 3 and capped.entities_read == 180
    single = read(make_incoming(exact_client, endpoint="standard", pagination=False, name="single"))
    assert single.api_calls == 1 and single.entities_read == 60
