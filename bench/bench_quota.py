"""Benchmark: quota-aware publishing at Exact's limits, with real Celery workers on PostgreSQL and Redis.

    .venv/bin/python bench/bench_quota.py [--scale 6] [--tasks 1000] [--processes 4] [--concurrency 4]
                                          [--batch 50] [--scenario one|three|both]

Starts its own sandbox at Exact's real limits (60 calls per minute and 5,000 per day per division and app),
a throw-away PostgreSQL database on ``--pg`` and a Redis database number of its own (``--redis``: the broker
and the quota limiter), grants an HTTP Client, and starts ``--processes`` Celery workers with
``--concurrency`` each. Then:

- ``one``: ``--tasks`` creates into one division;
- ``three``: ``--tasks`` creates into each of three divisions (three routes) on the same workers.

``--scale`` shortens Exact's minute to 60 / scale seconds in the sandbox (``SANDBOX_TIME_SCALE``) and in the
limiter (``DASH_EXACT_QUOTA_MINUTE_SECONDS``) alike; 1 runs at the real minute (about 17 minutes per
scenario). Prints, per division, the calls per window in full windows (the first and the last are partial),
the 429 answers and the duplicates found in Exact afterwards (must be 0), and the calls per minute overall.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-quota-"))


def configure(args: argparse.Namespace) -> dict[str, str]:
    """Environment for this process and the workers (set before Django starts)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DASH_VAR_DIR": str(WORK),
        "DATABASE_URL": f"{args.pg.rstrip('/')}/{args.database}",
        "CELERY_BROKER_URL": args.redis,
        "DASH_EXACT_QUOTA_REDIS_URL": args.redis,
        "DASH_EXACT_QUOTA_MINUTE_SECONDS": str(60.0 / args.scale),
        "DASH_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return env


def create_database(args: argparse.Namespace) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        conn.execute(f'CREATE DATABASE "{args.database}"')


def drop_database(args: argparse.Namespace) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def start_workers(env: dict[str, str], processes: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    workers = []
    for n in range(processes):
        log = (WORK / f"worker-{n}.log").open("wb")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork",
             "--concurrency", str(concurrency), "--loglevel", "WARNING", "-n", f"bench{n}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
    for worker in workers:
        worker.wait(timeout=30)


THIRD_DIVISION = 101003


def add_division(box: Any, code: int) -> None:
    """A third division in the sandbox's administration (the seed has two), for the fair-share scenario."""
    import json
    import sqlite3

    with sqlite3.connect(box.db_path, timeout=30) as db:
        data = json.loads(db.execute("SELECT data FROM divisions ORDER BY code DESC LIMIT 1").fetchone()[0])
        data.update({"Code": code, "Description": "Bench Division C"})
        db.execute("INSERT OR REPLACE INTO divisions(code, data) VALUES (?, ?)", (code, json.dumps(data)))


def make_route(client: Any, division: int, tasks: int, batch: int, label: str) -> Any:
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task

    incoming = Incoming.objects.create(name=f"quota {label}", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name=f"quota {label}", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": division}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    route = Route.objects.create(name=f"quota {label}", incoming=incoming, outgoing=outgoing, batch_size=batch,
                                 backoff_seconds=1, max_attempts=8)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, incoming=incoming, transformed={"Name": f"Quota {label} {i}"})
                              for i in range(tasks)], batch_size=1000)
    return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)


class RequestWatch:
    """The sandbox keeps its latest 2,000 requests: polled often enough, nothing is missed."""

    def __init__(self, box: Any, client_id: str) -> None:
        self.box, self.client_id = box, client_id
        self.seen: dict[tuple[Any, ...], dict[str, Any]] = {}

    def poll(self) -> None:
        for row in self.box.requests_log():
            if row.get("client_id") == self.client_id and "/crm/Accounts" in row.get("path", ""):
                self.seen[(row["at"], row["path"], row["method"], row.get("status"), row.get("ms"))] = row


def run_scenario(box: Any, client: Any, divisions: list[int], args: argparse.Namespace, label: str) -> dict[str, Any]:
    from connections.flow import routing
    from connections.models import Task

    minute = 60.0 / args.scale
    watch = RequestWatch(box, client.config["client_id"])
    watch.poll()
    before = set(watch.seen)
    runs = {d: make_route(client, d, args.tasks, args.batch, f"{label} {d}") for d in divisions}
    started = time.time()
    for route_run in runs.values():
        routing.queue_open_tasks(route_run)
    total = args.tasks * len(divisions)
    last_repair = time.monotonic()
    deadline = time.monotonic() + max(600.0, total / 60 * minute * 3)
    while time.monotonic() < deadline:
        time.sleep(min(2.0, minute / 4))
        watch.poll()
        done = Task.objects.filter(run__in=[r.run_id for r in runs.values()], status__in=Task.DONE).count()
        if done >= total:
            break
        if time.monotonic() - last_repair > minute:  # what beat does every minute
            routing.repair()
            last_repair = time.monotonic()
    ended = time.time()
    watch.poll()
    rows = [row for key, row in watch.seen.items() if key not in before and row["at"] >= started - 1]
    per_division: dict[int, Counter[int]] = defaultdict(Counter)
    throttled: Counter[int] = Counter()
    for row in rows:
        division = int(row["path"].split("/")[3])
        if row.get("status") == 429:
            throttled[division] += 1
        else:
            per_division[division][int(row["at"] // minute)] += 1
    result: dict[str, Any] = {"label": label, "seconds": ended - started, "divisions": {}}
    for division, route_run in runs.items():
        windows = per_division[division]
        keys = sorted(windows)
        full = [windows[k] for k in keys[1:-1]]  # the first and the last window are partial
        statuses = Counter(Task.objects.filter(run=route_run.run).values_list("status", flat=True))
        result["divisions"][division] = {
            "calls": sum(windows.values()), "full_windows": len(full), "min_full": min(full) if full else 0,
            "mean_full": sum(full) / len(full) if full else 0.0, "throttled": throttled[division],
            "statuses": dict(statuses), "duplicates": duplicates(client, division, route_run),
        }
    calls = sum(d["calls"] for d in result["divisions"].values())
    all_windows = sorted({k for w in per_division.values() for k in w})
    span = len(all_windows[1:-1]) if len(all_windows) > 2 else 0
    full_calls = sum(w[k] for w in per_division.values() for k in all_windows[1:-1])
    result["per_minute"] = full_calls / span if span else 0.0
    result["calls"] = calls
    return result


def duplicates(client: Any, division: int, route_run: Any) -> int:
    from connections.models import Task
    from exact_online.client_type import api_for
    from exact_online.quota import quota_scope

    outgoing = route_run.route.outgoing
    refs = {outgoing.idempotency_reference("", pk) for pk in Task.objects.filter(run=route_run.run)
            .values_list("pk", flat=True)}
    seen: Counter[str] = Counter()
    api = api_for(client, max_wait=600.0)  # this process may wait: it is the bench, not a worker
    with quota_scope(interactive=True):
        for page in api.iter_pages("bulk/CRM/Accounts", division=division, params={"$select": "SearchCode"}):
            seen.update(row["SearchCode"] for row in page.results if row.get("SearchCode") in refs)
    return sum(n - 1 for n in seen.values() if n > 1) + len(refs - set(seen))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=6.0, help="60 / scale seconds per Exact minute (1 = real)")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--scenario", choices=["one", "three", "both"], default="both")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default=f"bench_quota_{os.getpid()}")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="a Redis database of the bench's own")
    args = parser.parse_args(argv)

    env = configure(args)
    create_database(args)
    import django

    django.setup()
    from django.core.management import call_command

    from tests.fixtures.sandbox import grant_client, start_sandbox

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(args.redis).flushdb()  # the bench's own database number only
    box = start_sandbox(WORK / "sandbox", seed=True, SANDBOX_TIME_SCALE=str(args.scale),
                        SANDBOX_DAILY_LIMIT="5000", SANDBOX_MINUTELY_LIMIT="60")
    workers: list[subprocess.Popen[bytes]] = []
    results = []
    try:
        codes = [*box.divisions, THIRD_DIVISION]
        add_division(box, THIRD_DIVISION)
        client = grant_client(box, "bench quota", divisions=codes)
        box.set_limits(minutely=60, daily=5000, reset_counters=True)
        workers = start_workers(env, args.processes, args.concurrency)
        time.sleep(5)
        if args.scenario in ("one", "both"):
            results.append(run_scenario(box, client, codes[:1], args, "one division"))
        if args.scenario in ("three", "both"):
            results.append(run_scenario(box, client, codes[:3], args, "three divisions"))
    finally:
        stop_workers(workers)
        box.stop()
        from django.db import connections

        from clients.usage import flush

        flush()  # the API-call counts this process gathered, before its database goes
        connections.close_all()
        drop_database(args)
    minute = 60.0 / args.scale
    print(f"scale {args.scale:g}: a minute lasts {minute:g} s; {args.processes} processes x {args.concurrency}, "
          f"batch {args.batch}")
    print(f"{'scenario':<16} {'division':>8} {'calls':>6} {'full windows':>12} {'min/window':>10} "
          f"{'mean/window':>11} {'429':>4} {'dupes':>5}  statuses")
    for result in results:
        for division, row in result["divisions"].items():
            print(f"{result['label']:<16} {division:>8} {row['calls']:>6} {row['full_windows']:>12} "
                  f"{row['min_full']:>10} {row['mean_full']:>11.1f} {row['throttled']:>4} {row['duplicates']:>5}  "
                  f"{row['statuses']}")
        print(f"{result['label']:<16} overall: {result['per_minute']:.1f} calls per minute in full windows, "
              f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
