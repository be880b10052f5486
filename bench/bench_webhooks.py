"""Benchmark: 1,000 webhook deliveries from 8 concurrent senders to one hook, then with 200 bad signatures mixed in.

    .venv/bin/python bench/bench_webhooks.py [--deliveries 1000] [--bad 200] [--senders 8] [--server gunicorn|runserver]
        [--no-worker] [--backlog N]
    .venv/bin/python bench/bench_webhooks.py --in-process 500   # the accept path alone: queries and CPU per request,
        # then the worker's drain of what it stored: how long its transactions hold SQLite's write lock

A throw-away embedded setup (SQLite, the SQLAlchemy broker: what ``make run`` uses) with the web server and one
Celery worker (concurrency 2, as in the Procfile) as subprocesses. The web server is the one ``make run`` starts
(``--server gunicorn``, the default: the Procfile's and the Dockerfile's gunicorn with 3 sync workers; the
Dockerfile's stack itself runs on PostgreSQL and Redis, not measured here), or Django's development server for
comparison (``--server runserver``: a thread and a new SQLite connection per request). A hook with an HMAC check
feeds a route; each delivery carries one order. Prints, per run: requests per status, the endpoint's p50/p95/max
response time, the seconds the senders took, deliveries stored, tasks created, lost (accepted but not stored or
without its task) and how long the workers took to turn everything into tasks,
the load average and the CPU time per request of the senders (this process) and of the web server's processes.
``--backlog N`` first queues N publish batches of another route (one task each, to the same never-granted client,
so each fails its task): a worker busy with a run's batches; the rows then say how long the hook's tasks took
and how many backlog batches still waited when they were all made.
Targets (issue 13): 1,000 in <= 10 s, 0 lost, p95 <= 50 ms; bad signatures: 0 processed, all counted,
good p95 within 1.5x of the clean run.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ["DEBUG"] = "false"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402

SECRET = "bench-hmac-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (WORK / f"{name}.log").open("wb")
    return subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def setup() -> Any:
    from clients.models import HttpClient
    from connections.models import Outgoing, Route
    from webhooks.models import Webhook

    client = HttpClient.objects.create(name="bench (never granted)", kind="exact_online", config={})
    outgoing = Outgoing.objects.create(name="bench", publisher="exact_online", entity="crm/Accounts",
                                       http_client=client)
    hook = Webhook(name="bench", parser_config={"items_path": "orders"}, identifier_path="id",
                   validation={"hmac": {"header": "X-Signature", "algorithm": "sha256", "encoding": "hex",
                                        "prefix": "sha256="}})
    hook.set_secrets({"hmac_secret": SECRET})
    hook.save()
    Route.objects.create(name="bench", webhook=hook, outgoing=outgoing, batch_size=100)
    return hook


def queue_backlog(hook: Any, count: int) -> Any:
    """``count`` publish batches of one task each, queued on the default queue as a run's batches are."""
    from django.db import transaction

    from connections.flow.queue import queue_publishing
    from connections.models import Route, RouteRun, Run, Task, TriggerSource

    outgoing = hook.routes.get().outgoing
    route = Route.objects.create(name="backlog", outgoing=outgoing, batch_size=1)
    with transaction.atomic():
        run = Run.objects.create(trigger=TriggerSource.MANUAL, status=Run.Status.SUCCEEDED)
        route_run = RouteRun.objects.create(route=route, run=run, trigger=TriggerSource.MANUAL,
                                            status=RouteRun.Status.PUBLISHING)
        tasks = Task.objects.bulk_create(Task(run=run, identifier=f"backlog-{i}", data={"Name": f"b{i}"})
                                         for i in range(count))
        queue_publishing(route_run.pk, [task.pk for task in tasks], batch_size=1)
    return run


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def send_all(url: str, bodies: list[tuple[bytes, bool]], senders: int) -> tuple[list[tuple[bool, int, float]], float]:
    """POST every body (signed well when its flag is True) from ``senders`` threads; (good, status, ms) each."""
    def one(index: int) -> tuple[bool, int, float]:
        body, good = bodies[index]
        signature = "sha256=" + hmac.new(SECRET.encode() if good else b"wrong", body, hashlib.sha256).hexdigest()
        started = time.perf_counter()
        response = requests.post(url, data=body, timeout=30, headers={  # a connection each, like most senders
            "Content-Type": "application/json", "X-Signature": signature, "Connection": "close"})
        return good, response.status_code, (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        results = list(pool.map(one, range(len(bodies))))
    return results, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of process ``root`` and its children (the web server's workers), from /proc."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run(label: str, url: str, hook: Any, good: int, bad: int, senders: int, *, wait: bool,
        server_pid: int = 0, backlog: Any = None) -> dict[str, Any]:
    from connections.models import Task
    from webhooks.models import Delivery, Rejection

    tag = f"{label}-{time.time_ns()}"
    bodies = [(json.dumps({"orders": [{"id": f"{tag}-{i}", "amount": i}]}).encode(), True) for i in range(good)]
    bodies += [(json.dumps({"orders": [{"id": f"{tag}-bad-{i}"}]}).encode(), False) for i in range(bad)]
    random.Random(7).shuffle(bodies)
    stored_before = Delivery.objects.filter(webhook=hook).count()
    refused_before = sum(Rejection.objects.filter(webhook=hook, status=401).values_list("count", flat=True))
    load = os.getloadavg()[0]
    cpu_senders, cpu_server = time.process_time(), tree_cpu_seconds(server_pid) if server_pid else 0.0
    results, seconds = send_all(url, bodies, senders)
    cpu_senders, cpu_server = time.process_time() - cpu_senders, (
        tree_cpu_seconds(server_pid) - cpu_server if server_pid else 0.0)
    statuses: dict[int, int] = {}
    for _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    good_ms = [ms for ok, _, ms in results if ok]
    accepted = sum(1 for ok, status, _ in results if ok and status == 202)
    started = time.perf_counter()
    tasks = Task.objects.filter(identifier__startswith=f"{tag}-")
    while wait and time.perf_counter() - started < 180 and tasks.count() < accepted:
        time.sleep(0.5)
    processing = time.perf_counter() - started
    waiting = Task.objects.filter(run=backlog, status=Task.Status.NEW).count() if backlog is not None else 0
    stored = Delivery.objects.filter(webhook=hook).count() - stored_before
    return {
        "label": label, "sent": len(bodies), "statuses": statuses, "seconds": seconds,
        "p50": percentile(good_ms, 50), "p95": percentile(good_ms, 95), "max": max(good_ms),
        "stored": stored, "accepted": accepted, "tasks": tasks.count(),
        "lost": accepted - (tasks.count() if wait else stored),  # store only: accepted but not stored
        "bad_tasks": Task.objects.filter(identifier__startswith=f"{tag}-bad-").count(),
        "refused": sum(Rejection.objects.filter(webhook=hook, status=401).values_list("count", flat=True))
        - refused_before, "processing": processing, "load": load,
        "senders_cpu_ms": cpu_senders * 1000 / len(bodies), "server_cpu_ms": cpu_server * 1000 / len(bodies),
        "backlog_waiting": waiting,
    }


def in_process(hook: Any, count: int) -> None:
    """The accept path without a server or network: the SQL one accepted delivery costs, and the CPU time
    (not wall time, which the machine's load inflates) per request through the WSGI application the servers
    run (config.wsgi: a hook request meets SecurityMiddleware only), and through the whole middleware stack
    for comparison, the two interleaved so that both meet the same load."""
    import io
    from wsgiref.util import setup_testing_defaults

    from django.core.signals import request_started
    from django.db import close_old_connections, connection

    from config import wsgi

    request_started.disconnect(close_old_connections)  # as Django's test client: keep the one connection

    def post(app: Any, index: int) -> int:
        body = json.dumps({"orders": [{"id": f"in-process-{index}", "amount": index}]}).encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST", "PATH_INFO": hook.hook_path, "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_SIGNATURE": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "HTTP_USER_AGENT": "python-requests/2.32", "HTTP_ACCEPT": "*/*", "HTTP_CONNECTION": "close"}
        setup_testing_defaults(environ)
        started: list[str] = []
        b"".join(app(environ, lambda status, headers, *exc: started.append(status)))
        return int(started[0].split()[0])

    apps = {"config.wsgi (hook handler)": wsgi.application, "whole middleware stack": wsgi.site}
    for index in range(20):  # warm-up: imports, the first connection
        for app in apps.values():
            post(app, -index - 1)
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert post(wsgi.application, 0) == 202
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    wall: dict[str, list[float]] = {name: [] for name in apps}
    numbers = itertools.count(1)
    for _ in range(count):
        for name, app in apps.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            assert post(app, next(numbers)) == 202
            cpu[name].append((time.process_time() - cpu_start) * 1000)
            wall[name].append((time.perf_counter() - wall_start) * 1000)
    print(f"accept path in process (SQLite, DEBUG off, {count} requests each; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"SQL statements per accepted delivery: {len(statements)}: "
          + ", ".join(sql.split()[0] + (f" {table[0]}" if (table := re.findall(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql))
                                        else "") for sql in statements) + " (each in autocommit)")
    for name in apps:
        print(f"{name}: CPU ms per request p50 {percentile(cpu[name], 50):.2f}, p95 {percentile(cpu[name], 95):.2f}; "
              f"wall ms p50 {percentile(wall[name], 50):.2f}, p95 {percentile(wall[name], 95):.2f}")
    drain_in_process(hook)


def drain_in_process(hook: Any) -> None:
    """What the worker's drain of the deliveries just stored costs the endpoint: on SQLite every transaction
    (IMMEDIATE) holds the one write lock from its BEGIN to its end, and an endpoint's INSERT waits for it. Times
    each outermost transaction (wall and this thread's CPU) while ``drain`` turns the deliveries into tasks."""
    from django.db import connection, transaction

    from webhooks.models import Delivery
    from webhooks.processing import drain

    held: list[tuple[float, float]] = []
    opened: list[tuple[float, float]] = []
    enter, commit, rollback = transaction.Atomic.__enter__, connection.commit, connection.rollback

    def timed_enter(self: Any) -> None:
        if not connection.in_atomic_block:
            opened.append((time.perf_counter(), time.thread_time()))
        enter(self)

    def ended(end: Any) -> None:  # the lock is released here, before the on-commit hooks (broker sends) run
        end()
        if opened and not connection.savepoint_ids:
            wall_start, cpu_start = opened.pop()
            held.append(((time.perf_counter() - wall_start) * 1000, (time.thread_time() - cpu_start) * 1000))

    waiting = Delivery.objects.filter(webhook=hook, status=Delivery.Status.RECEIVED).count()
    transaction.Atomic.__enter__ = timed_enter  # type: ignore[method-assign]
    connection.commit, connection.rollback = lambda: ended(commit), lambda: ended(rollback)  # type: ignore[method-assign]
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        outcomes = drain(hook.pk)
    finally:
        transaction.Atomic.__enter__ = enter  # type: ignore[method-assign]
        connection.commit, connection.rollback = commit, rollback  # type: ignore[method-assign]
    total, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000
    walls, cpus = [w for w, _ in held], [c for _, c in held]
    print(f"drain of {waiting} deliveries in process ({outcomes}): {total:.0f} ms ({cpu:.0f} ms CPU); "
          f"{len(held)} transactions holding the write lock {sum(walls):.0f} ms in all ({sum(cpus):.0f} ms CPU), "
          f"each p50 {percentile(walls, 50):.1f} ms, p95 {percentile(walls, 95):.1f}, max {max(walls, default=0):.1f} "
          f"(CPU p95 {percentile(cpus, 95):.1f}, max {max(cpus, default=0):.1f}); load average "
          f"{os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--bad", type=int, default=200)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn",
                        help="gunicorn: as `make run` (Procfile) and the Dockerfile (3 sync workers); runserver: "
                             "Django's development server, for comparison")
    parser.add_argument("--no-worker", action="store_true",
                        help="store only (no Celery worker): the endpoint alone, without the workers' writes")
    parser.add_argument("--backlog", type=int, default=0, metavar="N",
                        help="first queue N publish batches of another route (the default queue) for the worker")
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="only measure the accept path in this process (N requests), no server")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    hook = setup()
    if args.in_process:
        in_process(hook, args.in_process)
        return
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DASH_LOG_LEVEL": "WARNING",
           "DASH_HEARTBEAT_EVERY": "disable"}
    port = free_port()
    if args.server == "gunicorn":
        web_args = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", "3", "--access-logfile", "-", "--logger-class", "config.access_log.GunicornLogger",
                    "--log-level", "warning",  # the Dockerfile's CMD (the access log goes to the web log file)
                    "--control-socket", str(WORK / "gunicorn.ctl")]
    else:
        web_args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    web = start(web_args, "web", env)
    worker = None if args.no_worker else start(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=2", "--loglevel=WARNING",
         "--without-mingle", "--without-gossip", "--queues=interactive,celery"], "worker", env)  # the Procfile's
    url = f"http://127.0.0.1:{port}{hook.hook_path}"
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        send_all(url, [(b'{"orders": []}', True)] * 20, 2)  # warm-up (not counted)
        backlog = queue_backlog(hook, args.backlog) if args.backlog else None
        rows = [run("clean", url, hook, args.deliveries, 0, args.senders, wait=worker is not None, server_pid=web.pid,
                    backlog=backlog),
                run("bad sigs", url, hook, args.deliveries, args.bad, args.senders, wait=worker is not None,
                    server_pid=web.pid, backlog=backlog)]
    finally:
        stop(web)
        if worker is not None:
            stop(worker)
    workers = "no worker (store only)" if args.no_worker else "1 worker (concurrency 2)"
    server = {"runserver": "runserver (Django's development server)",
              "gunicorn": "gunicorn, 3 sync workers (as make run and the Dockerfile)"}
    print(f"server: {server[args.server]}; {args.senders} senders; SQLite + SQLAlchemy broker; {workers}; DEBUG off; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
          + (f"; a backlog of {args.backlog} publish batches queued first" if args.backlog else ""))
    print(f"{'run':<9} {'sent':>5} {'202':>5} {'401':>5} {'send s':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
          f"{'stored':>6} {'tasks':>6} {'lost':>5} {'bad tasks':>9} {'to tasks s':>10} {'load':>5} "
          f"{'CPU ms/req: senders':>19} {'server':>6} {'backlog left':>12}")
    for row in rows:
        print(f"{row['label']:<9} {row['sent']:>5} {row['statuses'].get(202, 0):>5} {row['statuses'].get(401, 0):>5} "
              f"{row['seconds']:>7.2f} {row['p50']:>7.1f} {row['p95']:>7.1f} {row['max']:>7.1f} {row['stored']:>6} "
              f"{row['tasks']:>6} "
              f"{row['lost']:>5} {row['bad_tasks']:>9} {row['processing']:>10.1f} "
              f"{row['load']:>5.1f} {row['senders_cpu_ms']:>19.2f} {row['server_cpu_ms']:>6.2f} "
              f"{row['backlog_waiting']:>12}")
    clean, mixed = rows
    print(f"refused (counted) in the mixed run: {mixed['refused']}; good p95 mixed / clean: "
          f"{mixed['p95'] / clean['p95']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
