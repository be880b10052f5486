"""Benchmark: the pages people open, over a million tasks in PostgreSQL (p95 of 20 requests, queries per page).

    .venv/bin/python bench/bench_million_tasks.py [--tasks 1000000] [--requests 20] [--database bench_million]
                                                  [--pg postgres://postgres@127.0.0.1:5432] [--fresh]

Fills a PostgreSQL database of its own (created when missing; kept for the next run unless ``--fresh``) with
``--tasks`` tasks in one ``INSERT … SELECT generate_series`` inside PostgreSQL: 80% Finished, 10% Failed, 5%
Skipped, 5% New, about 1 KB of data each, spread over 30 days across 10 routes and 900 route runs. Then asks
each page ``--requests`` times through Django's test client as an administrator and prints the p50, p95, the
median time spent in SQL and the number of SQL queries per page against the 150 ms budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-million-"))

ROUTES = 10
RUNS_PER_ROUTE = 90  # three a day for 30 days


def setup(pg: str, database: str, fresh: bool) -> None:
    """Point Django at the benchmark's own database (created when missing), then start it."""
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{database}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DASH_VAR_DIR"] = str(WORK)
    os.environ["DATABASE_URL"] = f"{pg}/{database}"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django

    django.setup()


def fill(count: int) -> None:
    """Routes, runs and ``count`` tasks; the tasks are made by PostgreSQL itself (seconds, not hours)."""
    from django.db import connection
    from django.utils import timezone

    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task

    if Task.objects.exists():
        return
    client = HttpClient.objects.create(name="bench million", kind="exact_online", config={})
    now = timezone.now()
    run_ids: list[int] = []
    for r in range(ROUTES):
        incoming = Incoming.objects.create(name=f"bench million {r}", subscriber="exact_online", http_client=client,
                                           task_label="&{Code} – &{Name}", task_key="&{Code}")
        outgoing = Outgoing.objects.create(name=f"bench million {r}", publisher="exact_online", action="upsert",
                                           entity="crm/Accounts", http_client=client, config={"upsert_key": "Code"})
        route = Route.objects.create(name=f"bench million {r}", incoming=incoming, outgoing=outgoing)
        for n in range(RUNS_PER_ROUTE):
            at = now - timedelta(days=30) * (1 - n / RUNS_PER_ROUTE)
            run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED, created_at=at, started_at=at,
                                     finished_at=at)
            RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED, created_at=at,
                                    finished_at=at)
            run_ids.append(run.pk)
    # Run ids ordered by time: task i (oldest first) belongs to run i * runs / count.
    run_ids.sort(key=lambda pk: Run.objects.get(pk=pk).created_at)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO connections_task (run_id, incoming_id, status, identifier, label, label_key, search_key,
                data, transformed, retransform, request, response, external_key, attempts, error, skip_reason, log,
                created_at, updated_at)
            SELECT runs.ids[1 + (i * %(runs)s::bigint / %(count)s)],
                runs.incomings[1 + (i * %(runs)s::bigint / %(count)s)],
                CASE WHEN i %% 20 < 16 THEN 'finished' WHEN i %% 20 < 18 THEN 'failed'
                     WHEN i %% 20 = 18 THEN 'skipped' ELSE 'new' END,
                md5(i::text)::uuid::text,
                'C' || lpad(i::text, 7, '0') || ' – Company ' || i,
                'c' || lpad(i::text, 7, '0') || ' – company ' || i,
                'c' || lpad(i::text, 7, '0'),
                jsonb_build_object('ID', md5(i::text)::uuid, 'Code', 'C' || lpad(i::text, 7, '0'),
                                   'Name', 'Company ' || i, 'City', 'Utrecht',
                                   'Email', 'info' || i || '@example.invalid',
                                   'Remarks', repeat('Lorem ipsum dolor sit amet. ', 20)),
                jsonb_build_object('Code', 'C' || lpad(i::text, 7, '0'), 'Name', 'Company ' || i, 'City', 'Utrecht'),
                false,
                CASE WHEN i %% 20 < 18 THEN jsonb_build_object('method', 'PUT', 'path', 'crm/Accounts') END,
                CASE WHEN i %% 20 < 16 THEN jsonb_build_object('status', 204) END,
                CASE WHEN i %% 20 < 16 THEN md5((i + 1)::text)::uuid::text ELSE '' END,
                CASE WHEN i %% 20 < 18 THEN 1 ELSE 0 END,
                CASE WHEN i %% 20 IN (16, 17) THEN 'Failed (permanent error): Code ' || i || ' bestaat al' ELSE '' END,
                CASE WHEN i %% 20 = 18 THEN 'unchanged since the last run' ELSE '' END,
                jsonb_build_array(jsonb_build_object('at', now(), 'level', 'info', 'message', 'Published.')),
                now() - interval '30 days' + (i * interval '30 days' / %(count)s),
                now() - interval '30 days' + (i * interval '30 days' / %(count)s)
            FROM generate_series(0, %(count)s - 1) AS i,
                 (SELECT array_agg(r.id ORDER BY r.created_at) AS ids,
                         array_agg(r.incoming_id ORDER BY r.created_at) AS incomings FROM connections_run r) AS runs
        """, {"count": count, "runs": len(run_ids)})
    with connection.cursor() as cursor:  # as autovacuum would leave it: visibility map set, statistics fresh
        cursor.execute("VACUUM ANALYZE connections_task")
    print(f"{count:,} tasks written in {time.perf_counter() - started:.0f} s")


def measure(client: Any, url: str, requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: list[float] = []
    sql: list[float] = []
    queries = 0
    status = 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries, status = len(captured), response.status_code
        sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    return {"p50": statistics.median(times), "p95": p95, "queries": queries, "status": status,
            "sql": statistics.median(sql)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database", default="bench_million")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--fresh", action="store_true", help="drop the database and fill it again")
    parser.add_argument("--budget-ms", type=float, default=150.0)
    args = parser.parse_args(argv)
    setup(args.pg, args.database, args.fresh)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from connections.models import Route, Task

    call_command("migrate", verbosity=0)
    fill(args.tasks)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_superuser": True,
                                                                                        "is_staff": True})
    client = Client()
    client.force_login(admin)
    route = Route.objects.order_by("pk")[ROUTES // 2]
    task = Task.objects.get(pk=list(Task.objects.filter(status="failed").order_by("-pk")
                                    .values_list("pk", flat=True)[:1000])[-1])
    pages = {
        "Tasks, unfiltered": "/connections/tasks/",
        "Tasks, status failed": "/connections/tasks/?status=failed",
        "Tasks, by route": f"/connections/tasks/?route={route.pk}",
        "Tasks, text search (q)": "/connections/tasks/?q=bestaat",
        "Tasks, find label/key": "/connections/tasks/?find=C05000",
        "Tasks, page 500": "/connections/tasks/?page=500",
        "a task's page": f"/connections/tasks/{task.pk}/",
        "dashboard": "/",
        "a route's page": f"/connections/routes/{route.pk}/",
    }
    print(f"{'page':<24} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8} {'queries':>8} {'budget':>7}")
    for name, url in pages.items():
        row = measure(client, url, args.requests)
        verdict = "ok" if row["p95"] <= args.budget_ms else "OVER"
        print(f"{name:<24} {row['status']:>6} {row['p50']:>8.0f} {row['p95']:>8.0f} {row['sql']:>8.0f} "
              f"{row['queries']:>8} {verdict:>7}")


if __name__ == "__main__":
    main()
