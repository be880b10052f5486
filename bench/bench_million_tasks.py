"""Benchmark: the pages people open, over a million tasks in PostgreSQL (p95 of 20 requests, queries per page).

    .venv/bin/python bench/bench_million_tasks.py [--tasks 1000000] [--requests 20] [--database bench_million]
                                                  [--pg postgres://postgres@127.0.0.1:5432] [--fresh]
                                                  [--only PAGE ...] [--explain] [--profile PAGE ...] [--today N]

Fills a PostgreSQL database of its own (created when missing; kept for the next run unless ``--fresh``) with
``--tasks`` tasks in one ``INSERT … SELECT generate_series`` inside PostgreSQL: 80% Finished, 10% Failed, 5%
Skipped, 5% New, about 1 KB of data each, spread over 30 days across 10 routes and 900 route runs. Every column
the bench does not set gets the model's default, so a column added to Task later needs no change here. The fill is
one transaction; a database holding anything else than one complete fill (interrupted, older, another
``--tasks``) is emptied and filled anew. Then asks each page ``--requests`` times through Django's test client as an
administrator and prints per page: p50 and p95, the median time spent waiting for SQL, this process's CPU time per
request (Python and templates), the number of queries, and, from one more request, the sum of PostgreSQL's own
execution times (``EXPLAIN (ANALYZE, BUFFERS)`` of every query the page issued) and the buffers they touched: the
parts that do not depend on how loaded the machine is. ``--explain`` prints each query with its plan's scans,
``--profile`` a cProfile of a page. ``--today N`` first adds tasks so that today holds N (a busy day; it writes
to the database, so point ``--database`` at a copy: ``CREATE DATABASE x TEMPLATE bench_million``).
"""

from __future__ import annotations

import argparse
import json
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
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DASH_VAR_DIR"] = str(WORK)
    os.environ["DATABASE_URL"] = f"{pg}/{database}"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["DASH_CACHE_URL"] = "locmem://"  # this process only: a cached chart is this run's, not another's
    import django

    django.setup()


# How the generated rows differ from a new task's defaults (``i`` is the row number, oldest first). Every other
# column of connections_task gets its model default, read from the model: a column added later needs no change here.
TASK_SQL = {
    "run_id": "runs.ids[1 + (i * %(runs)s::bigint / %(count)s)]",
    "incoming_id": "runs.incomings[1 + (i * %(runs)s::bigint / %(count)s)]",
    "status": """CASE WHEN i %% 20 < 16 THEN 'finished' WHEN i %% 20 < 18 THEN 'failed'
                      WHEN i %% 20 = 18 THEN 'skipped' ELSE 'new' END""",
    "identifier": "md5(i::text)::uuid::text",
    "label": "'C' || lpad(i::text, 7, '0') || ' – Company ' || i",
    "label_key": "'c' || lpad(i::text, 7, '0') || ' – company ' || i",
    "search_key": "'c' || lpad(i::text, 7, '0')",
    "data": """jsonb_build_object('ID', md5(i::text)::uuid, 'Code', 'C' || lpad(i::text, 7, '0'),
                                  'Name', 'Company ' || i, 'City', 'Utrecht',
                                  'Email', 'info' || i || '@example.invalid',
                                  'Remarks', repeat('Lorem ipsum dolor sit amet. ', 20))""",
    "transformed": """jsonb_build_object('Code', 'C' || lpad(i::text, 7, '0'), 'Name', 'Company ' || i,
                                         'City', 'Utrecht')""",
    "request": "CASE WHEN i %% 20 < 18 THEN jsonb_build_object('method', 'PUT', 'path', 'crm/Accounts') END",
    "response": "CASE WHEN i %% 20 < 16 THEN jsonb_build_object('status', 204) END",
    "external_key": "CASE WHEN i %% 20 < 16 THEN md5((i + 1)::text)::uuid::text ELSE '' END",
    "attempts": "CASE WHEN i %% 20 < 18 THEN 1 ELSE 0 END",
    "error": "CASE WHEN i %% 20 IN (16, 17) THEN 'Failed (permanent error): Code ' || i || ' bestaat al' ELSE '' END",
    "skip_reason": "CASE WHEN i %% 20 = 18 THEN 'unchanged since the last run' ELSE '' END",
    "log": "jsonb_build_array(jsonb_build_object('at', now(), 'level', 'info', 'message', 'Published.'))",
    "created_at": "now() - interval '30 days' + (i * interval '30 days' / %(count)s)",
    "updated_at": "now() - interval '30 days' + (i * interval '30 days' / %(count)s)",
}


# --today: tasks created from local midnight until now (``i`` of ``count``), in the newest run, marked by their
# identifier so that the fill check ignores them.
TODAY_PREFIX = "bench-today-"
TODAY_SQL = {
    **TASK_SQL,
    "run_id": "runs.ids[array_length(runs.ids, 1)]",
    "incoming_id": "runs.incomings[array_length(runs.ids, 1)]",
    "identifier": f"'{TODAY_PREFIX}' || md5(i::text || %(since)s::text)",
    "created_at": "%(since)s::timestamptz + (i * (%(until)s::timestamptz - %(since)s::timestamptz) / %(count)s)",
    "updated_at": "%(since)s::timestamptz + (i * (%(until)s::timestamptz - %(since)s::timestamptz) / %(count)s)",
}


def task_insert_sql(expressions: dict[str, str] = TASK_SQL) -> tuple[str, dict[str, Any]]:
    """``INSERT … SELECT generate_series`` over every concrete column of Task, and its parameters."""
    from django.db import connection

    from connections.models import Task

    columns, values, params = [], [], {}
    for field in Task._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(str(field.column)))
        if field.column in expressions:
            values.append(expressions[field.column])
        else:  # the model's default, as Django would write it (JSON adapted, "" for blank text, NULL if nullable)
            name = f"default_{field.column}"
            params[name] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({name})s")
    unknown = set(expressions) - {f.column for f in Task._meta.concrete_fields}
    if unknown:
        raise SystemExit(f"bench_million_tasks: Task has no column(s) {sorted(unknown)}: update TASK_SQL")
    sql = f"""
        INSERT INTO connections_task ({", ".join(columns)})
        SELECT {", ".join(values)}
        FROM generate_series(0, %(count)s - 1) AS i,
             (SELECT array_agg(r.id ORDER BY r.created_at, r.id) AS ids,
                     array_agg(r.incoming_id ORDER BY r.created_at, r.id) AS incomings FROM connections_run r) AS runs
    """
    return sql, params


def filled(count: int) -> bool | None:
    """True when the database holds exactly one complete fill of ``count`` tasks; None when it holds none; False
    for anything else (an interrupted or older fill, another ``--tasks``): then it has to be filled anew."""
    from connections.models import Route, RouteRun, Run, Task

    routes, runs, route_runs = Route.objects.count(), Run.objects.count(), RouteRun.objects.count()
    if not (routes or runs or route_runs or Task.objects.exists()):
        return None
    extra = Task.objects.filter(identifier__startswith=TODAY_PREFIX).count()  # added by --today
    return (routes, runs, route_runs) == (ROUTES, ROUTES * RUNS_PER_ROUTE, ROUTES * RUNS_PER_ROUTE) \
        and Task.objects.order_by().count() == count + extra


def fill(count: int) -> None:
    """Routes, runs and ``count`` tasks in one transaction; the tasks are made by PostgreSQL itself (minutes, not
    hours). A database holding anything but one complete fill of ``count`` tasks is emptied first."""
    from django.db import connection, transaction
    from django.utils import timezone

    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run

    state = filled(count)
    if state:
        return
    started = time.perf_counter()
    with transaction.atomic():
        if state is False:
            print("bench_million_tasks: the database holds a partial or different fill: filling it anew")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE connections_task, connections_routerun, connections_run, connections_route, "
                               "connections_incoming, connections_outgoing, clients_httpclient CASCADE")
        client = HttpClient.objects.create(name="bench million", kind="exact_online", config={})
        now = timezone.now()
        for r in range(ROUTES):
            incoming = Incoming.objects.create(name=f"bench million {r}", subscriber="exact_online",
                                               http_client=client, task_label="&{Code} – &{Name}", task_key="&{Code}")
            outgoing = Outgoing.objects.create(name=f"bench million {r}", publisher="exact_online", action="upsert",
                                               entity="crm/Accounts", http_client=client,
                                               config={"upsert_key": "Code"})
            route = Route.objects.create(name=f"bench million {r}", incoming=incoming, outgoing=outgoing)
            for n in range(RUNS_PER_ROUTE):
                at = now - timedelta(days=30) * (1 - n / RUNS_PER_ROUTE)
                run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED, created_at=at,
                                         started_at=at, finished_at=at)
                RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED, created_at=at,
                                        finished_at=at)
        sql, params = task_insert_sql()
        with connection.cursor() as cursor:  # task i (oldest first) belongs to run i * runs / count, by time
            cursor.execute(sql, {**params, "count": count, "runs": ROUTES * RUNS_PER_ROUTE})
    with connection.cursor() as cursor:  # as autovacuum would leave it: visibility map set, statistics fresh
        cursor.execute("VACUUM ANALYZE")
    if not filled(count):
        raise SystemExit("bench_million_tasks: the fill did not leave the expected rows")
    print(f"{count:,} tasks written in {time.perf_counter() - started:.0f} s")


def add_today(count: int) -> None:
    """Make today hold ``count`` bench tasks (spread from local midnight until now) on top of the fill: a busy
    day's dashboard (the 30-day fill's today is a few hours of 33,000 a day). Writes to the database: use a copy."""
    from datetime import datetime
    from datetime import time as day_time

    from django.db import connection
    from django.utils import timezone

    from connections.models import Task

    now = timezone.now()
    since = datetime.combine(timezone.localdate(now), day_time.min, tzinfo=timezone.get_current_timezone())
    have = Task.objects.filter(identifier__startswith=TODAY_PREFIX, created_at__gte=since).count()
    if have >= count:
        return
    sql, params = task_insert_sql(TODAY_SQL)
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "count": count - have, "runs": ROUTES * RUNS_PER_ROUTE, "since": since,
                             "until": now})
        cursor.execute("VACUUM ANALYZE connections_task")
    print(f"bench_million_tasks: {count - have:,} tasks added to today "
          f"(from {since:%H:%M} until {timezone.localtime(now):%H:%M})")


def measure(client: Any, url: str, requests: int) -> dict[str, Any]:
    """Wall time, time in SQL (as the client waits for it) and CPU time of this process (Python and templates,
    which the machine's load hardly changes) of ``requests`` requests of ``url``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: list[float] = []
    sql: list[float] = []
    cpu: list[float] = []
    queries = 0
    status = 0
    for _ in range(requests):
        connection.queries_log.clear()  # the log keeps 9,000 queries: a capture past that would count none
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        queries, status = len(captured), response.status_code
        sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    return {"p50": statistics.median(times), "p95": p95, "queries": queries, "status": status,
            "sql": statistics.median(sql), "cpu": statistics.median(cpu)}


def explain(client: Any, url: str) -> list[dict[str, Any]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of every query one request of ``url`` issues: the server's own time and the
    pages (8 kB) it touched, which depend on the plan, not on how busy the machine is."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    plans = []
    for query in captured.captured_queries:
        text = query["sql"]
        if not text.lstrip().upper().startswith(("SELECT", "WITH")):
            plans.append({"ms": float(query["time"]) * 1000, "buffers": 0, "node": "-", "sql": text})
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {text}")
            plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        top = plan[0]["Plan"]
        nodes: list[str] = []

        def walk(node: dict[str, Any], nodes: list[str] = nodes) -> None:
            if "Relation Name" in node or "Index Name" in node:
                nodes.append(f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name')}")
            for child in node.get("Plans", []):
                walk(child)

        walk(top)
        plans.append({"ms": plan[0]["Execution Time"], "node": "; ".join(nodes) or top["Node Type"], "sql": text,
                      "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)})
    return plans


def profile(client: Any, url: str, top: int = 40) -> str:
    """cProfile of one request (after a warm-up one): where this process spends its time."""
    import cProfile
    import io
    import pstats

    client.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def chart_off_the_request(client: Any, requests: int) -> None:
    """What the dashboard's chart costs off the request: the beat job counting the 13 closed days again, and a
    request just after midnight (only the day that ended is missing from the cache)."""
    from django.core.cache import cache

    from connections.overview import _day_key, chart_days, warm_task_chart

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        warm_task_chart()
        timings.append((time.perf_counter() - started) * 1000)
    yesterday = chart_days()[-2]
    after_midnight = []
    for _ in range(requests):
        cache.delete(_day_key(yesterday))
        started = time.perf_counter()
        client.get("/")
        after_midnight.append((time.perf_counter() - started) * 1000)
    after_midnight.sort()
    print(f"dashboard chart: beat job (13 closed days counted) median {statistics.median(timings):.0f} ms; "
          f"a request after midnight (1 day counted) p50 {statistics.median(after_midnight):.0f} ms, "
          f"p95 {after_midnight[max(0, round(0.95 * len(after_midnight)) - 1)]:.0f} ms")


def next_link(client: Any, url: str) -> str:
    """The page's Next link (it names the last row shown: the next page seeks from it instead of an OFFSET)."""
    import html
    import re

    found = re.search(r'href="(\?[^"]*)">Next<', client.get(url).content.decode())
    if found is None:
        raise SystemExit(f"bench_million_tasks: {url} has no Next link")
    return url.split("?")[0] + html.unescape(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database", default="bench_million")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--fresh", action="store_true", help="drop the database and fill it again")
    parser.add_argument("--today", type=int, default=0, metavar="N",
                        help="first make today hold N tasks (a busy day: 33000); writes to --database, use a copy")
    parser.add_argument("--budget-ms", type=float, default=150.0)
    parser.add_argument("--only", nargs="*", help="measure only the pages whose name contains one of these")
    parser.add_argument("--explain", action="store_true", help="print each query of each page with its plan")
    parser.add_argument("--profile", nargs="*", metavar="PAGE", help="print a cProfile of these pages (full names)")
    args = parser.parse_args(argv)
    setup(args.pg, args.database, args.fresh)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from connections.models import Route, Task

    call_command("migrate", verbosity=0)
    fill(args.tasks)
    if args.today:
        add_today(args.today)
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
        "Tasks, rare text (q)": "/connections/tasks/?q=code+500016+bestaat",  # one task: the trigram index's case
        "Tasks, find label/key": "/connections/tasks/?find=C05000",
        "Tasks, page 500": "/connections/tasks/?page=500",
        "Tasks, page 500 by Next": next_link(client, "/connections/tasks/?page=499"),  # what following Next asks
        "a task's page": f"/connections/tasks/{task.pk}/",
        "dashboard": "/",
        "a route's page": f"/connections/routes/{route.pk}/",
    }
    pages = {name: url for name, url in pages.items() if not args.only or any(o in name for o in args.only)}
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{'page':<24} {'status':>6} {'p50 ms':>7} {'p95 ms':>7} {'SQL p50':>7} {'CPU p50':>7} {'queries':>7} "
          f"{'EXPLAIN':>7} {'buffers':>8} {'budget':>6}")
    details = []
    for name, url in pages.items():
        row = measure(client, url, args.requests)
        plans = explain(client, url)
        details.append((name, plans))
        verdict = "ok" if row["p95"] <= args.budget_ms else "OVER"
        print(f"{name:<24} {row['status']:>6} {row['p50']:>7.0f} {row['p95']:>7.0f} {row['sql']:>7.0f} "
              f"{row['cpu']:>7.0f} {row['queries']:>7} {sum(p['ms'] for p in plans):>7.1f} "
              f"{sum(p['buffers'] for p in plans):>8,} {verdict:>6}", flush=True)
    if not args.only or any(o in "dashboard" for o in args.only):
        chart_off_the_request(client, args.requests)
    print("\nSQL p50: time the request waited for its queries; CPU p50: this process's CPU per request (Python, "
          "templates); EXPLAIN: the sum of PostgreSQL's own execution times (EXPLAIN ANALYZE) of the page's queries; "
          "buffers: 8 kB pages they touched")
    if args.explain:
        for name, plans in details:
            print(f"\n== {name}")
            for plan in plans:
                sql = " ".join(plan["sql"].split())
                print(f"  {plan['ms']:8.2f} ms {plan['buffers']:>7,} buf  {plan['node'][:70]:<70}  {sql[:110]}")
    for name in args.profile or []:
        print(f"\n== cProfile: {name}\n{profile(client, pages[name])}")

if __name__ == "__main__":
    main()
