"""Acceptance: a worker killed (SIGKILL) in the middle of a 5,000-task run loses nothing and duplicates nothing.

Real ``celery -A config worker`` processes publish to a sandbox of its own; one is killed mid-run. Its claimed
tasks stay Processing and the rest of its batches are gone with it; the repair job (called here as beat
would) puts them back, their next attempt looks the record up before writing, and every task ends
Finished with exactly one record in Exact.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

from connections.flow import routing
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
from tests.fixtures.sandbox import grant_client

TASKS = 5000


def _finished(run: Run) -> int:
    return Task.objects.filter(run=run, status=Task.Status.FINISHED).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_run_every_task_finishes_once(own_sandbox, celery_worker_process):
    target = own_sandbox.divisions[1]
    client = grant_client(own_sandbox, "kill test", unlimited=True)
    incoming = Incoming.objects.create(name="kill test source", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name="kill test create", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": target}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    route = Route.objects.create(name="kill test", incoming=incoming, outgoing=outgoing, batch_size=200)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, incoming=incoming, transformed={"Name": f"Kill test {i}"})
                              for i in range(TASKS)], batch_size=1000)
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)

    doomed = celery_worker_process(concurrency=2, name="doomed")
    survivor = celery_worker_process(concurrency=2, name="survivor")
    assert routing.queue_open_tasks(route_run) == TASKS

    deadline = time.monotonic() + 300
    while _finished(run) < TASKS // 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    doomed.kill()  # SIGKILL to the whole process group, mid-batch
    killed_at = _finished(run)
    assert killed_at < TASKS, "the run ended before the kill: the test proves nothing"
    replacement = celery_worker_process(concurrency=2, name="replacement")  # what a supervisor does after a crash

    # Beat's repair job, run more often than its default minute so the test stays short.
    last, idle_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        done = _finished(run)
        route_run.refresh_from_db()
        if done == TASKS and route_run.status != RouteRun.Status.PUBLISHING:
            break  # the last batch's worker also closed the run (or repair did, below)
        if done != last:
            last, idle_since = done, time.monotonic()
        elif time.monotonic() - idle_since > 2:
            routing.repair(older_than=timedelta(seconds=2))
            idle_since = time.monotonic()
        time.sleep(0.5)

    for worker in (survivor, replacement):
        worker.kill()  # all done: a warm shutdown of a polling worker only costs time
    statuses = Counter(Task.objects.filter(run=run).values_list("status", flat=True))
    assert statuses == {"finished": TASKS}, statuses
    keys = list(Task.objects.filter(run=run).values_list("external_key", flat=True))
    assert len(set(keys)) == TASKS and "" not in keys

    refs = {outgoing.idempotency_reference("", pk) for pk in Task.objects.filter(run=run).values_list("pk", flat=True)}
    from exact_online.client_type import api_for

    seen: Counter[str] = Counter()
    for page in api_for(client).iter_pages("bulk/CRM/Accounts", division=target,
                                           params={"$select": "ID,SearchCode"}):
        seen.update(row["SearchCode"] for row in page.results if row.get("SearchCode") in refs)
    assert len(seen) == TASKS  # every task's record is in Exact...
    assert max(seen.values()) == 1  # ...exactly once
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.SUCCEEDED
