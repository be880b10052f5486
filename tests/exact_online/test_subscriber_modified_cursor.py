"""A Modified cursor reads with overlap (ge) and drops what it already read: rows sharing the boundary timestamp
are neither lost nor read twice. The HTTP layer is faked here: this is about the cursor arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clients.models import HttpClient
from connections.flow.read import execute_incoming_run
from connections.models import Incoming, IncomingCursor, Run, Task
from exact_online.subscriber import ExactSubscriber

pytestmark = pytest.mark.django_db

T1, T2, T3 = 1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000


def row(key: str, ms: int) -> dict:
    return {"ID": key, "Name": key, "Modified": f"/Date({ms})/"}


@dataclass
class FakePage:
    results: list
    next_url: str | None


class FakeApi:
    """Serves ``rows`` whose Modified is >= the filter's datetime, two per page, and records each call."""

    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def iter_pages(self, path, *, division, params, max_pages):
        self.calls.append(dict(params or {}))
        text = (params or {}).get("$filter", "")
        low = 0
        if "Modified ge datetime'" in text:
            from datetime import UTC, datetime

            literal = text.split("datetime'")[1].split("'")[0]
            low = int(datetime.fromisoformat(literal).replace(tzinfo=UTC).timestamp() * 1000)
        matching = [r for r in self.rows if int(r["Modified"][6:-2]) >= low]
        for start in range(0, len(matching), 2):
            more = start + 2 < len(matching)
            yield FakePage(matching[start:start + 2], f"http://x/next?{start}" if more else None)


@pytest.fixture
def incoming():
    client = HttpClient.objects.create(name="c", kind="exact_online", config={"base_url": "http://x", "client_id": "y"})
    return Incoming.objects.create(name="m", subscriber="exact_online", http_client=client, incremental=True,
                                   query={"$select": "ID,Name,Modified"},
                                   config={"entity": "crm/BankAccounts", "divisions": "selected",
                                           "division_codes": [5]})


def run_once(incoming) -> set[str]:
    run, _ = Run.enqueue(incoming)
    done = execute_incoming_run(run.pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    ids = list(Task.objects.filter(run=run).values_list("identifier", flat=True))
    assert len(ids) == len(set(ids))
    return set(ids)


def test_rows_sharing_the_boundary_timestamp_are_neither_lost_nor_repeated(incoming, monkeypatch):
    api = FakeApi([row("A", T1), row("B", T2), row("C", T2)])
    monkeypatch.setattr(ExactSubscriber, "api", lambda self: api)
    assert run_once(incoming) == {"A", "B", "C"}
    cursor = IncomingCursor.objects.get(incoming=incoming, division=5)
    assert (cursor.kind, int(cursor.value), sorted(cursor.seen_keys)) == ("modified", T2, ["B", "C"])

    api.rows += [row("D", T2), row("E", T3)]  # D was written in the same millisecond as B and C
    assert run_once(incoming) == {"D", "E"}
    assert api.calls[-1]["$filter"] == "Modified ge datetime'2023-11-14T22:13:21.000'"
    cursor.refresh_from_db()
    assert (int(cursor.value), cursor.seen_keys) == (T3, ["E"])

    assert run_once(incoming) == set()  # only E comes back (ge) and is dropped
