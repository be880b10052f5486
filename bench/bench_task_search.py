"""Benchmark: finding a task by label or key on the Tasks page among a million tasks.

    .venv/bin/python bench/bench_task_search.py [--tasks 1000000] [--budget-ms 250]

Writes ``--tasks`` tasks into a throw-away SQLite database (labels like ``C0123456 – Company 123456``,
keys ``C0123456``), then asks what the Tasks page asks for a search: the first page of matches and the
count per status (the same ``filtered_tasks`` the view uses). Prints the median and worst time per kind of
search against the budget; the index on the normalised label/key is what keeps it flat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-task-search-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Count  # noqa: E402


def fill(count: int) -> None:
    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
    from connections.task_names import TaskNamer

    client = HttpClient.objects.create(name="bench", kind="exact_online", config={})
    incoming = Incoming.objects.create(name="bench search", subscriber="exact_online", http_client=client,
                                       task_label="&{Code} – &{Name}", task_key="&{Code}")
    outgoing = Outgoing.objects.create(name="bench search", publisher="exact_online", action="create",
                                       entity="crm/Accounts", http_client=client)
    route = Route.objects.create(name="bench search", incoming=incoming, outgoing=outgoing)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED)  # route tasks, as people search
    namer = TaskNamer(incoming.task_label, incoming.task_key)
    batch: list[Task] = []
    for i in range(count):
        entity = {"Code": f"C{i:07d}", "Name": f"Company {i}"}
        batch.append(Task(run=run, incoming=incoming, identifier=f"guid-{i}", data={}, **namer(entity, "")))
        if len(batch) == 5000:
            Task.objects.bulk_create(batch)
            batch.clear()
    Task.objects.bulk_create(batch)


def search(params: dict[str, str]) -> tuple[float, int]:
    from connections.views.tasks import filtered_tasks

    started = time.perf_counter()
    tasks = filtered_tasks(params)
    list(tasks.order_by("-created_at", "-pk")[:50])
    hits = sum(dict(tasks.order_by().values_list("status").annotate(n=Count("pk"))).values())
    return (time.perf_counter() - started) * 1000, hits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--budget-ms", type=float, default=250.0)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(args.tasks)
    print(f"{args.tasks:,} tasks written in {time.perf_counter() - started:.0f} s")
    middle = args.tasks // 2
    kinds = {
        "key, exact": {"find": f"C{middle:07d}"},
        "key, prefix (10 hits)": {"find": f"C{middle // 10:06d}"},
        "label, prefix": {"find": f"c{middle:07d} – comp"},
        "no match": {"find": "zzz"},
    }
    print(f"{'search':<24} {'hits':>6} {'median ms':>10} {'worst ms':>10} {'budget':>8}")
    for name, params in kinds.items():
        runs = [search(params) for _ in range(15)]
        times = [ms for ms, _ in runs]
        verdict = "ok" if statistics.median(times) <= args.budget_ms else "OVER"
        print(f"{name:<24} {runs[0][1]:>6} {statistics.median(times):>10.1f} {max(times):>10.1f} {verdict:>8}")


if __name__ == "__main__":
    main()
