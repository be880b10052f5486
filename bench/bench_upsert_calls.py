"""Benchmark: API calls per Upsert task, look-ups included (1,000 upserts of which half exist).

    .venv/bin/python bench/bench_upsert_calls.py [--tasks 1000] [--batch 50]

Starts its own sandbox (rate limit lifted) and a throw-away database. Half of the records already exist in
Exact (made there by someone else, so the id map does not know them); the other half are new. The tasks are
published with ``publish_batch`` (what a worker runs): each batch first finds its records by the upsert key in
one call (``prepare_batch``), then writes each one. A second run publishes the same records again: the id
map is warm, so no look-up is needed. Calls are counted by the route run and by the sandbox's request log.
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
WORK = Path(tempfile.mkdtemp(prefix="bench-upsert-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from tests.fixtures.sandbox import Sandbox, grant_client, start_sandbox  # noqa: E402


def publish(box: Sandbox, client: Any, division: int, codes: list[str], batch: int, label: str) -> dict[str, Any]:
    from connections.flow.publish import publish_batch
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task

    incoming, _ = Incoming.objects.get_or_create(name="bench upsert", subscriber="exact_online", http_client=client)
    outgoing, _ = Outgoing.objects.get_or_create(name="bench upsert", defaults=dict(
        publisher="exact_online", action="upsert", entity="crm/Accounts", path={"division": division},
        http_client=client, config={"upsert_key": "Code"}))
    route = Route.objects.create(name=f"bench upsert {label}", incoming=incoming, outgoing=outgoing,
                                 batch_size=batch, backoff_seconds=1)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    tasks = len(codes)
    Task.objects.bulk_create([Task(run=run, identifier=f"src-{code}",
                                   transformed={"Code": code, "Name": f"{label} {code}"}) for code in codes],
                             batch_size=1000)
    route_run = RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)
    since = box.requests_log()[0]["at"]
    started = time.perf_counter()
    ids = list(Task.objects.filter(run=run).values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        route_run.refresh_from_db()
        publish_batch(route_run, ids[start:start + batch])
    seconds = time.perf_counter() - started
    route_run.refresh_from_db()
    logged = Counter(e["method"] for e in box.requests_log()
                     if e.get("at", 0) > since and e["path"].startswith("/api/v1/") and e.get("division") == division)
    statuses = Counter(Task.objects.filter(run=run).values_list("status", flat=True))
    return {"label": label, "tasks": tasks, "seconds": seconds, "calls": route_run.api_calls,
            "calls_per_task": route_run.api_calls / tasks, "logged": dict(logged), "statuses": dict(statuses)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    box = start_sandbox(WORK / "sandbox", seed=True)
    try:
        from exact_online.client_type import api_for

        division = box.divisions[1]
        client = grant_client(box, "bench upsert", unlimited=True)
        existing: list[str] = []
        for page in api_for(client).iter_pages("bulk/CRM/Accounts", division=division, params={"$select": "Code"}):
            existing.extend(str(row["Code"]).strip() for row in page.results)
        box.generate("Accounts", max(0, args.tasks // 2 - len(existing)), division)  # made by someone else
        existing = []
        for page in api_for(client).iter_pages("bulk/CRM/Accounts", division=division, params={"$select": "Code"}):
            existing.extend(str(row["Code"]).strip() for row in page.results)
        half = args.tasks // 2
        wanted = sorted(existing)[:half] + [f"NEW{n:05d}" for n in range(args.tasks - half)]
        rows = [publish(box, client, division, wanted, args.batch, "cold map"),
                publish(box, client, division, wanted, args.batch, "warm map")]
        codes: Counter[str] = Counter()
        for page in api_for(client).iter_pages("bulk/CRM/Accounts", division=division, params={"$select": "Code"}):
            codes.update(str(row["Code"]).strip() for row in page.results)
    finally:
        box.stop()
    print(f"{'run':<9} {'tasks':>6} {'batch':>6} {'seconds':>8} {'calls':>6} {'calls/task':>10}  sandbox log  statuses")
    for row in rows:
        print(f"{row['label']:<9} {row['tasks']:>6} {args.batch:>6} {row['seconds']:>8.1f} {row['calls']:>6} "
              f"{row['calls_per_task']:>10.3f}  {row['logged']}  {row['statuses']}")
    print(f"accounts in Exact: {sum(codes.values())}, duplicated codes: {sum(n - 1 for n in codes.values() if n > 1)}")


if __name__ == "__main__":
    main()
