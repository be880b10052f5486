"""Benchmark: end to end, Accounts read from the sandbox, transformed by an 8-step chain, written as tasks.

    .venv/bin/python bench/bench_e2e_read.py [--accounts 100000] [--database bench_e2e]
                                            [--pg postgres://postgres@127.0.0.1:5432] [--no-store]

Starts its own sandbox (minutely limit lifted, as the other benchmarks do) with ``--accounts`` generated
Accounts, and a PostgreSQL database of its own (dropped and made again). A route reads them (the automatic
endpoint), runs the 8-step chain of ``bench_transformers`` on each and writes the tasks, page by page, as a
worker's ``read_route`` does (publishing is left out: it is what ``bench_upsert_calls`` measures). Prints
entities per second against the 5,000 target, the API calls, and the CPU time per entity of the reader, its
PostgreSQL backends (the reader's and its page writer's) and the sandbox (what a loaded machine does not change
much). ``--no-store`` swaps the chain's ``skip_unchanged`` step (a store look-up per entity) for a pure step, to
show what that costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-e2e-"))


def setup(pg: str, database: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DASH_VAR_DIR"] = str(WORK)
    os.environ["DATABASE_URL"] = f"{pg}/{database}"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django

    django.setup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database", default="bench_e2e")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--no-store", action="store_true",
                        help="replace the chain's skip_unchanged step (a store look-up per entity) by a pure one")
    args = parser.parse_args(argv)
    setup(args.pg, args.database)
    from django.core.management import call_command

    from bench.bench_transformers import CHAIN
    from connections.flow import routing
    from connections.models import Incoming, Outgoing, Route, Storage, Task, Transformer
    from tests.fixtures.sandbox import grant_client, start_sandbox

    call_command("migrate", verbosity=0)
    box = start_sandbox(WORK / "sandbox", seed=True)
    try:
        client = grant_client(box, "bench e2e", unlimited=True)
        division = box.divisions[1]
        box.generate("Accounts", args.accounts, division)
        Storage.objects.get_or_create(name="bench-seen")
        incoming = Incoming.objects.create(
            name="bench e2e", subscriber="exact_online", http_client=client,
            query={"$select": "ID,Code,Name,Email,Phone,City,Postcode,Country,Blocked,Division,Created,Creator,"
                              "Modified"},
            config={"entity": "crm/Accounts", "divisions": "selected", "division_codes": [division]})
        steps = [step if not (args.no_store and step["type"] == "skip_unchanged")
                 else {"type": "set_value", "params": {"path": "source", "value": "exact"}} for step in CHAIN]
        chain = Transformer.objects.create(name="bench e2e chain", steps=steps)
        outgoing = Outgoing.objects.create(name="bench e2e", publisher="exact_online", action="upsert",
                                           entity="crm/Accounts", http_client=client, config={"upsert_key": "Code"})
        route = Route.objects.create(name="bench e2e", incoming=incoming, outgoing=outgoing)
        route.set_transformers([chain])
        route_run = routing.start_route_run(route, enqueue=False)
        backends = _Backends(args.pg, args.database)
        before = (time.process_time(), backends.cpu_seconds(), _tree_cpu_seconds(box.process.pid))
        started = time.perf_counter()
        routing.read_route_run(route_run)
        seconds = time.perf_counter() - started
        after = (time.process_time(), backends.stop(), _tree_cpu_seconds(box.process.pid))
        load = os.getloadavg()
        route_run.refresh_from_db()
        run = route_run.run
        assert run is not None
        tasks = Task.objects.filter(run=run).count()
    finally:
        box.stop()
    rate = run.entities_read / seconds
    print(f"chain: {'7 pure steps + set_value' if args.no_store else '7 pure steps + skip_unchanged (store)'}")
    print(f"{'accounts':>9} {'read':>8} {'tasks':>8} {'API calls':>9} {'seconds':>8} {'entities/s':>10} "
          f"{'target':>7}")
    print(f"{args.accounts:>9} {run.entities_read:>8} {tasks:>8} {run.api_calls:>9} {seconds:>8.1f} {rate:>10.0f} "
          f"{'ok' if rate >= 5000 else 'UNDER':>7}")
    reader, database, sandbox = (1e6 * (b - a) / max(run.entities_read, 1) for a, b in zip(before, after, strict=True))
    print(f"CPU per entity (load-independent): reader {reader:.0f} µs (all its threads), its PostgreSQL backends "
          f"{database:.0f} µs, sandbox {sandbox:.0f} µs; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


class _Backends:
    """CPU of every PostgreSQL backend of the database (the reader's, its page writer's): polled every 0.2 s, as a
    backend that ends with its thread (the writer's) is gone from /proc by the end; what it spends in its last 0.2 s
    is not counted."""

    def __init__(self, pg: str, database: str) -> None:
        import threading

        import psycopg

        self.conn = psycopg.connect(f"{pg}/postgres", autocommit=True)
        self.database = database
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()
        self.poll()
        self.start = sum(self.seen.values())
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def poll(self) -> None:
        pids = [row[0] for row in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]).fetchall()]
        for pid in pids:
            self.seen[pid] = max(self.seen.get(pid, 0.0), _cpu_seconds(pid))

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.poll()

    def cpu_seconds(self) -> float:
        return self.start

    def stop(self) -> float:
        self.stopping.set()
        self.thread.join()
        self.poll()
        self.conn.close()
        return sum(self.seen.values())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (Linux /proc); 0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU of ``pid`` and its children (the sandbox's server may fork)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                children.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in children)


if __name__ == "__main__":
    main()
