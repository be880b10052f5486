"""Benchmark: "Retry all matching" of the 100,000 failed tasks among a million, as a worker runs it.

    .venv/bin/python bench/bench_million_retry.py [--database bench_million] [--pg postgres://postgres@127.0.0.1:5432]
                                                  [--broker memory://]

Copies the million-task database of ``bench_million_tasks.py`` (filled there first: run that once) to a scratch
database (``<database>_retry``, dropped at the end) so the original keeps its failed tasks, then starts the job as
the Tasks page does (``status=failed``) and runs it as the worker does, in this process. Meanwhile another thread
asks the page's progress fragment every second, as the page's htmx poll does, and prints what it showed. Prints the
total time, the number of chunks and the slowest chunk (a chunk is one transaction: no row stays locked longer),
and how long a concurrent single-row UPDATE of a task of the job (a worker's, say) waited at most. Run against
older code (no ``requeue_chunk``) it times each chunk's ``requeue_tasks``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="bench_million")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--broker", default="memory://", help="where the publish messages go (nobody reads them)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    import psycopg

    scratch = f"{args.database}_retry"
    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone():
            raise SystemExit(f"no database {args.database}: run bench/bench_million_tasks.py first")
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        started = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{args.database}"')
        print(f"copied {args.database} to {scratch} in {time.perf_counter() - started:.0f} s")
    from bench.bench_million_tasks import setup

    setup(args.pg, scratch, fresh=False)
    os.environ["CELERY_BROKER_URL"] = args.broker
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def run(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from connections.flow import bulk
    from connections.models import Task, TaskBulkRetry

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True,
                                                                                        "is_staff": True})
    failed = Task.objects.filter(status="failed").count()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{failed:,} failed tasks")
    job = bulk.start_bulk_retry({"status": "failed"}, user=admin)  # what the page's POST does (sent on commit)
    last_ids = list(Task.objects.filter(status="failed").order_by("-pk").values_list("pk", flat=True)[:200])

    chunks: list[float] = []
    step = "requeue_chunk" if hasattr(bulk, "requeue_chunk") else "requeue_tasks"  # older code: its chunk's work
    real = getattr(bulk, step)

    def timed(*a: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        result = real(*a, **kw)
        chunks.append(time.perf_counter() - started)
        return result

    setattr(bulk, step, timed)
    done = threading.Event()
    shown: list[str] = []
    waits: list[float] = []

    def poll() -> None:  # the page's htmx poll, and a worker touching one of the job's tasks now and then
        from django.db import connection as own

        client = Client()
        client.force_login(admin)
        n = 0
        while not done.is_set():
            html = client.get("/connections/tasks/bulk/progress/").content.decode()
            match = re.search(r"<strong>([\d,]+)</strong> of ([\d,]+) done", html)
            if match:
                shown.append(f"{match.group(1)} of {match.group(2)}")
            with own.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute("UPDATE connections_task SET attempts = attempts WHERE id = %s", [last_ids[n % 200]])
                waits.append(time.perf_counter() - started)
            n += 1
            done.wait(1.0)
        own.close()

    poller = threading.Thread(target=poll)
    started = time.perf_counter()
    poller.start()
    bulk.run_bulk_retry(job.pk)
    total = time.perf_counter() - started
    done.set()
    poller.join()
    job.refresh_from_db()
    print(f"job {job.pk}: {job.status}, {job.done:,} of {job.total:,} done, {job.queued:,} queued in {total:.1f} s "
          f"({job.done / total:,.0f} tasks/s)")
    print(f"{len(chunks)} chunks of {bulk.CHUNK}: median {sorted(chunks)[len(chunks) // 2] * 1000:.0f} ms, "
          f"slowest {max(chunks) * 1000:.0f} ms ({step})")
    print(f"a concurrent UPDATE of one of the job's tasks waited at most {max(waits, default=0) * 1000:.0f} ms "
          f"({len(waits)} tries)")
    print(f"progress the page showed ({len(shown)} polls): {', '.join(shown[:3])} … {', '.join(shown[-3:])}")
    retry = Task.objects.filter(status="retry").count()
    print(f"tasks now in Retry: {retry:,}; still failed: {Task.objects.filter(status='failed').count():,}")
    connection.close()
    assert TaskBulkRetry.objects.filter(pk=job.pk, status="finished").exists()


if __name__ == "__main__":
    main()
