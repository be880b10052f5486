"""Benchmark: the REST API's answer times, in process (token check, rate limit, role check, form, JSON).

    .venv/bin/python bench/bench_api.py [--tasks 100000] [--repeat 30]

Writes ``--tasks`` tasks (labels like ``C0123456 – Company 123456``, every tenth failed) and a few
configurations into a throw-away SQLite database, then calls each operation ``--repeat`` times through
Django's test client with a personal API token and prints the median and 95th percentile per operation
(and the Tasks page with the same search, signed in, for comparison: the list's cost is their shared filter).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-api-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ["DASH_API_RATE"] = "1000000/m"  # measure the API, not its limiter's refusals
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def fill(count: int) -> dict[str, Any]:
    from django.contrib.auth.models import Group, User

    from api.models import ApiToken
    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task, Transformer
    from connections.task_names import TaskNamer

    user = User.objects.create_user("bench-editor", password="x")
    user.groups.add(Group.objects.get_or_create(name="Editor")[0])
    client = HttpClient.objects.create(name="bench", kind="http", config={"base_url": "http://127.0.0.1:9"})
    incoming = Incoming.objects.create(name="bench api", subscriber="http", http_client=client,
                                       task_label="&{Code} – &{Name}", task_key="&{Code}")
    outgoing = Outgoing.objects.create(name="bench api", publisher="http", action="create", entity="/x",
                                       http_client=client)
    route = Route.objects.create(name="bench api", incoming=incoming, outgoing=outgoing)
    transformer = Transformer.objects.create(name="bench api", steps=[])
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED)
    namer = TaskNamer(incoming.task_label, incoming.task_key)
    batch: list[Task] = []
    for i in range(count):
        entity = {"Code": f"C{i:07d}", "Name": f"Company {i}"}
        status = Task.Status.FAILED if i % 10 == 0 else Task.Status.FINISHED
        batch.append(Task(run=run, incoming=incoming, identifier=f"guid-{i}", data=entity, status=status,
                          **namer(entity, "")))
        if len(batch) == 5000:
            Task.objects.bulk_create(batch)
            batch.clear()
    Task.objects.bulk_create(batch)
    return {"token": ApiToken.issue(user, name="bench", days=1)[1], "transformer": transformer.pk,
            "route": route.pk, "middle": count // 2}


def main(argv: list[str] | None = None) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    world = fill(args.tasks)
    print(f"{args.tasks:,} tasks written in {time.perf_counter() - started:.0f} s")
    client = Client(headers={"Authorization": f"Bearer {world['token']}"}, HTTP_HOST="localhost")
    calls: dict[str, tuple[str, str, Any]] = {
        "GET /me": ("get", "/api/v1/me", None),
        "GET /routes": ("get", "/api/v1/routes", None),
        "GET /tasks?status=failed": ("get", "/api/v1/tasks?status=failed", None),
        "GET /tasks?find=<key>": ("get", f"/api/v1/tasks?find=C{world['middle']:07d}", None),
        "GET /tasks (all, page 100)": ("get", "/api/v1/tasks?offset=5000&limit=50", None),
        "PATCH /transformers/{id}": ("patch", f"/api/v1/transformers/{world['transformer']}",
                                     {"description": "bench"}),
        "GET /openapi.json": ("get", "/api/v1/openapi.json", None),
    }
    page = Client(HTTP_HOST="localhost")  # the Tasks page with the same search, for comparison
    page.force_login(User.objects.get(username="bench-editor"))
    print(f"{'operation':<32} {'status':>6} {'median ms':>10} {'p95 ms':>8}")
    calls["page /connections/tasks/?find="] = ("get", f"/connections/tasks/?find=C{world['middle']:07d}", None)
    for name, (method, url, body) in calls.items():
        times, status = [], 0
        caller = page if name.startswith("page ") else client
        for _ in range(args.repeat):
            begin = time.perf_counter()
            kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
            status = getattr(caller, method)(url, **kwargs).status_code
            times.append((time.perf_counter() - begin) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:<32} {status:>6} {statistics.median(times):>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
