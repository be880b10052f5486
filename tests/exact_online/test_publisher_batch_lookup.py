"""An Upsert batch finds its records in one call, not one per task; the id map stays warm for the next run.

Counted by the sandbox's own request log: 40 upserts of which 20 exist cost 1 GET + 20 PUT + 20 POST.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from connections.flow import publish
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, SourceIdMap, Task
from exact_online.client_type import api_for
from tests.fixtures.sandbox import DEMO_DIVISIONS, Sandbox, grant_client

DIVISION = DEMO_DIVISIONS[1]


def calls_by(box: Sandbox, client_id: str, since: float) -> Counter[str]:
    """Our app's API requests since ``since`` per method (the sandbox's log, newest first)."""
    return Counter(entry["method"] for entry in box.requests_log()
                   if entry.get("client_id") == client_id and entry.get("at", 0) > since
                   and entry["path"].startswith("/api/v1/"))


def upsert_run(client: Any, prefix: str, count: int) -> RouteRun:
    incoming, _ = Incoming.objects.get_or_create(name=f"batch {prefix}", subscriber="exact_online", http_client=client)
    outgoing, _ = Outgoing.objects.get_or_create(name=f"batch {prefix}", defaults=dict(
        publisher="exact_online", action="upsert", entity="crm/Accounts", path={"division": DIVISION},
        http_client=client, config={"upsert_key": "Code"}))
    route = Route.objects.create(name=f"batch {prefix} {uuid.uuid4().hex[:4]}", incoming=incoming,
                                 outgoing=outgoing, batch_size=50, backoff_seconds=1)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, identifier=f"{prefix}-{i}",
                                   transformed={"Code": f"{prefix}{i:02d}", "Name": f"Batch {prefix} {i}"})
                              for i in range(count)])
    return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)


@pytest.mark.django_db
def test_forty_upserts_half_existing_cost_one_lookup(sandbox: Sandbox) -> None:
    client = grant_client(sandbox, "batch look-up", unlimited=True)  # 61 calls: more than a minute takes
    client_id = client.config["client_id"]
    api = api_for(client)
    prefix = "B" + uuid.uuid4().hex[:6].upper()
    for i in range(0, 40, 2):  # every even one exists already, made by someone else (no id map entry)
        api.request("POST", "crm/Accounts", division=DIVISION, json={"Code": f"{prefix}{i:02d}", "Name": "before"})

    route_run = upsert_run(client, prefix, 40)
    ids = list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    since = sandbox.requests_log()[0]["at"]
    assert publish.publish_batch(route_run, ids) == {"finished": 40}

    assert calls_by(sandbox, client_id, since) == {"GET": 1, "PUT": 20, "POST": 20}
    route_run.refresh_from_db()
    assert route_run.api_calls == 41  # 1.025 calls per task, look-up included
    rows = [row for page in api.iter_pages("crm/Accounts", division=DIVISION, params={
        "$filter": f"substringof('{prefix}', Code)", "$select": "ID,Code,Name"}) for row in page.results]
    assert len(rows) == 40 and {row["Name"] for row in rows} == {f"Batch {prefix} {i}" for i in range(40)}
    assert SourceIdMap.objects.filter(outgoing=route_run.route.outgoing).count() == 40
    task = Task.objects.get(identifier=f"{prefix}-0")
    assert any("batch look-up" in entry["message"] for entry in task.log)

    # The next run of the same records: the id map knows every one of them, so no look-up at all.
    again = upsert_run(client, prefix, 40)
    since = sandbox.requests_log()[0]["at"]
    publish.publish_batch(again, list(Task.objects.filter(run=again.run).values_list("pk", flat=True)))
    assert calls_by(sandbox, client_id, since) == {"PUT": 40}


@pytest.mark.django_db
def test_a_code_twice_in_one_batch_is_created_once(sandbox: Sandbox) -> None:
    client = grant_client(sandbox, "batch twice")
    api = api_for(client)
    prefix = "T" + uuid.uuid4().hex[:6].upper()
    route_run = upsert_run(client, prefix, 2)
    Task.objects.filter(run=route_run.run).update(transformed={"Code": f"{prefix}00", "Name": "same"})
    publish.publish_batch(route_run, list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True)))
    rows = [row for page in api.iter_pages("crm/Accounts", division=DIVISION, params={
        "$filter": f"substringof('{prefix}00', Code)", "$select": "ID"}) for row in page.results]
    assert len(rows) == 1
    assert set(Task.objects.filter(run=route_run.run).values_list("status", flat=True)) == {"finished"}


def test_look_up_chunks_fit_the_url_and_a_page() -> None:
    from urllib.parse import urlencode

    from exact_online.upsert_lookup import LOOKUP_VALUES, filter_chunks

    clauses = [(n, f"Code eq '{str(n).rjust(18)}'") for n in range(500)]
    chunks = filter_chunks(clauses, "ID,Code")
    assert [item for chunk in chunks for item in chunk] == clauses
    for chunk in chunks:
        query = urlencode({"$filter": " or ".join(clause for _n, clause in chunk), "$select": "ID,Code"})
        assert len(query) < 2048 and len(chunk) <= LOOKUP_VALUES
    assert len(chunks) == 10  # 50 padded codes still fit one call
