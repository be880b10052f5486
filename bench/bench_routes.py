"""Benchmark: publishing route tasks to the sandbox (creates), clean and with faults injected.

    .venv/bin/python bench/bench_routes.py [--tasks 1000] [--batch 100]

Starts its own sandbox (rate limit lifted, so the numbers show our code) and a throw-away database,
grants an HTTP Client through the client type's code path, writes ``--tasks`` New tasks and publishes
them in this process with ``publish_batch`` (what a worker runs), then again with 10% dropped
answers and 5% Dutch validation 500s on creates. Prints tasks per second, API calls per task, the
outcome per status and the duplicates found in Exact (must be 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-routes-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from tests.fixtures.sandbox import grant_client, start_sandbox  # noqa: E402


def publish(client: Any, division: int, tasks: int, batch: int, label: str) -> dict[str, Any]:
    from connections.flow.publish import publish_batch
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
    from exact_online.client_type import api_for

    incoming = Incoming.objects.create(name=f"bench {label}", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name=f"bench {label}", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": division}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    route = Route.objects.create(name=f"bench {label}", incoming=incoming, outgoing=outgoing, batch_size=batch,
                                 backoff_seconds=1)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, transformed={"Name": f"Bench {label} {i}"}) for i in range(tasks)],
                             batch_size=1000)
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    started = time.perf_counter()
    for _ in range(8):  # retries are due at once here: the bench measures work, not backoff
        ids = list(Task.objects.filter(run=run, status__in=Task.OPEN).values_list("pk", flat=True))
        if not ids:
            break
        Task.objects.filter(pk__in=ids).update(next_attempt_at=None)
        for start in range(0, len(ids), batch):
            route_run.refresh_from_db()
            publish_batch(route_run, ids[start:start + batch])
    seconds = time.perf_counter() - started
    route_run.refresh_from_db()
    statuses = Counter(Task.objects.filter(run=run).values_list("status", flat=True))
    refs = {outgoing.idempotency_reference("", pk) for pk in Task.objects.filter(run=run).values_list("pk", flat=True)}
    seen: Counter[str] = Counter()
    for page in api_for(client).iter_pages("bulk/CRM/Accounts", division=division, params={"$select": "SearchCode"}):
        seen.update(row["SearchCode"] for row in page.results if row.get("SearchCode") in refs)
    return {"label": label, "tasks": tasks, "seconds": seconds, "per_second": tasks / seconds,
            "calls_per_task": route_run.api_calls / tasks, "statuses": dict(statuses),
            "duplicates": sum(n - 1 for n in seen.values() if n > 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    box = start_sandbox(WORK / "sandbox", seed=True)
    try:
        client = grant_client(box, "bench routes", unlimited=True)
        division = box.divisions[1]
        rows = [publish(client, division, args.tasks, args.batch, "clean")]
        rule = {"path": f"{division}/crm/Accounts$", "method": "POST"}
        box.set_faults({**rule, "drop_rate": 0.10, "drop_mode": "close"}, {**rule, "validation_500_rate": 0.05})
        rows.append(publish(client, division, args.tasks, args.batch, "faults"))
        box.clear_faults()
    finally:
        box.stop()
    print(f"{'run':<8} {'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'calls/task':>10} {'duplicates':>10}  statuses")
    for row in rows:
        print(f"{row['label']:<8} {row['tasks']:>6} {row['seconds']:>8.1f} {row['per_second']:>8.1f} "
              f"{row['calls_per_task']:>10.2f} {row['duplicates']:>10}  {row['statuses']}")


if __name__ == "__main__":
    main()
