"""Benchmark: chaos during a run. Nothing lost, nothing duplicated, when a worker, Redis, PostgreSQL or Exact fails.

    .venv/bin/python bench/bench_chaos.py [--tasks 2000] [--batch 50] [--outage 120]
                                          [--experiments kill,redis,postgres,sandbox]

Starts everything it breaks on its own, in a temporary directory: a PostgreSQL cluster (``initdb`` from
/usr/lib/postgresql/*/bin, as the ``postgres`` user when run as root) and a ``redis-server`` (append-only, as
the compose file runs it), each on a free port, never the shared ones on 5432/6379; a sandbox (Exact's call
limits lifted, so the run is short); two ``celery worker`` processes × 2 on that Redis and PostgreSQL. Each
experiment publishes ``--tasks`` creates (the idempotency reference in ``SearchCode``, as the worker-kill test
does) and, once a quarter of them is finished:

- ``kill``: SIGKILL one worker's process group mid-batch, start a replacement (what a supervisor does);
- ``redis``: stop Redis (the broker and the quota limiter) and start it again 5 s later;
- ``postgres``: stop PostgreSQL (``pg_ctl stop -m fast``: connections cut) and start it again 5 s later;
- ``sandbox``: stop the sandbox (Exact) for ``--outage`` seconds, then start it again on the same port and data;
- ``sandbox-read``: the same while a route reads ``--tasks`` Accounts (the standard endpoint, 60 a page, each page
  slowed to 300 ms so that the read is still going) and publishes them as they come: the read waits and goes on
  from its checkpoint.

Beat's repair job is run by this process every 10 s with tasks stuck for 30 s (beat runs it every minute
with ``DASH_TASK_STUCK_AFTER``, 900 s). Prints per experiment: tasks expected, finished, failed, still open,
duplicates and missing records at the sandbox (counted in its database by reference), the highest attempt
count, the most tasks seen waiting at once with a reason and without spending an attempt ("deferred"), how
long the fault lasted, the time from its end to the next finished task ("resumed") and to the last one
("all done"), and the run's total time.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
EXPERIMENTS = ("kill", "redis", "postgres", "sandbox", "sandbox-read")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- a private PostgreSQL ----------------------------------------------------------------------------------


class Postgres:
    """A throw-away cluster in ``WORK/pg`` on its own port (trust authentication, user ``postgres``)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.data = WORK / "pg"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(WORK, "postgres")
            shutil.chown(self.data, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "chaos")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c max_connections=100", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)


# --- a private Redis ------------------------------------------------------------------------------------


class Redis:
    """``redis-server`` in ``WORK/redis`` on its own port, append-only like the compose file's."""

    def __init__(self) -> None:
        self.dir = WORK / "redis"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log_file = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--save", ""], stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis writes its append-only file and exits, as a restart does
            self.process.wait(timeout=30)


# --- workers and the sandbox ------------------------------------------------------------------------------


class Workers:
    def __init__(self, env: dict[str, str], concurrency: int) -> None:
        self.env, self.concurrency = env, concurrency
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        log_file = (WORK / f"worker-{n}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency",
             str(self.concurrency), "--loglevel", "WARNING", "-n", f"chaos{n}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env={**os.environ, **self.env}, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


def restart_sandbox(box: Any, outage: float) -> None:
    """Stop the sandbox, wait ``outage`` seconds, start it again on the same port with the same data."""
    args, env = box.process.args, box.start_env
    box.process.terminate()
    box.process.wait(timeout=30)
    time.sleep(outage)
    with box.log_path.open("ab") as out:
        box.process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    import requests

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{box.url}/sandbox/api/health", timeout=1).ok:
                return
        time.sleep(0.1)
    raise RuntimeError("the sandbox did not come back")


# --- one experiment ---------------------------------------------------------------------------------------


def make_route_run(client: Any, division: int, tasks: int, batch: int, label: str) -> Any:
    from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task

    incoming = Incoming.objects.create(name=f"chaos {label}", subscriber="exact_online", http_client=client)
    outgoing = Outgoing.objects.create(name=f"chaos {label}", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": division}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    route = Route.objects.create(name=f"chaos {label}", incoming=incoming, outgoing=outgoing, batch_size=batch,
                                 backoff_seconds=5, max_attempts=3)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create([Task(run=run, incoming=incoming, transformed={"Name": f"Chaos {label} {i}"})
                              for i in range(tasks)], batch_size=1000)
    return RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.PUBLISHING)


def sandbox_records(box: Any, division: int, refs: set[str]) -> Counter[str]:
    """How many Accounts in the sandbox's own database carry each reference (its API is not asked)."""
    seen: Counter[str] = Counter()
    with sqlite3.connect(box.db_path, timeout=60) as db:
        for (ref,) in db.execute("SELECT json_extract(data, '$.SearchCode') FROM records "
                                 "WHERE division = ? AND resource = 'crm/accounts'", (division,)):
            if ref in refs:
                seen[ref] += 1
    return seen


def counts(run_id: int) -> Counter[str] | None:
    """Tasks per status, and under "waiting" those in Retry that say why they wait (a deferral, no attempt)."""
    from django.db import connections

    from connections.models import Task

    try:
        found = Counter(Task.objects.filter(run_id=run_id).values_list("status", flat=True))
        found["waiting"] = Task.objects.filter(run_id=run_id, status=Task.Status.RETRY).exclude(wait_reason="").count()
        return found
    except Exception:  # the database is down (the postgres experiment): ask again later
        connections.close_all()
        return None


def repair() -> None:
    from django.db import connections

    from connections.flow import routing

    try:
        routing.repair(older_than=timedelta(seconds=30))
    except Exception as exc:  # Redis or PostgreSQL is down right now
        log(f"repair skipped: {type(exc).__name__}")
        connections.close_all()


def start_reading_route(box: Any, client: Any, source: int, target: int, tasks: int, batch: int) -> Any:
    """A route reading ``tasks`` Accounts of ``source`` (generated now) and creating them in ``target``."""
    from connections.flow import routing
    from connections.models import Incoming, Outgoing, Route, Transformer

    box.generate("Accounts", tasks, source)
    incoming = Incoming.objects.create(
        name="chaos read", subscriber="exact_online", http_client=client, query={"$select": "ID,Name"},
        config={"entity": "crm/Accounts", "endpoint": "standard", "divisions": "selected", "division_codes": [source]})
    outgoing = Outgoing.objects.create(name="chaos read create", publisher="exact_online", action="create",
                                       entity="crm/Accounts", path={"division": target}, http_client=client,
                                       config={"reference_field": "SearchCode", "reference_overwrite": True})
    shape = Transformer.objects.create(name="chaos read: name only", steps=[
        {"type": "key_map", "params": {"mapping": {"Name": "Name"}, "unmapped": "drop"}}])
    route = Route.objects.create(name="chaos read", incoming=incoming, outgoing=outgoing, batch_size=batch,
                                 backoff_seconds=5, max_attempts=3)
    route.set_transformers([shape])
    box.set_faults({"path": "crm/Accounts", "method": "GET", "latency_ms": 300})  # gone with the restart
    return routing.start_route_run(route)


def source_count(box: Any, division: int) -> int:
    with sqlite3.connect(box.db_path, timeout=60) as db:
        return int(db.execute("SELECT COUNT(*) FROM records WHERE division = ? AND resource = 'crm/accounts'",
                              (division,)).fetchone()[0])


def run_experiment(name: str, fault: Callable[[], None], box: Any, client: Any, division: int,
                   args: argparse.Namespace) -> dict[str, Any]:
    from connections.flow import routing
    from connections.models import Run, Task

    started = time.monotonic()
    if name == "sandbox-read":
        source = box.divisions[0]
        route_run = start_reading_route(box, client, source, division, args.tasks, args.batch)
        expected = source_count(box, source)
    else:
        route_run = make_route_run(client, division, args.tasks, args.batch, name)
        expected = args.tasks
        started = time.monotonic()
        routing.queue_open_tasks(route_run)
    run_id = route_run.run_id
    deadline = started + args.timeout
    faulted_at = recovered_at = None
    fault_seconds = 0.0
    peak_waiting = 0
    last_repair = time.monotonic()
    done_at_fault = 0
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_counts = counts(run_id)
        if now_counts is None:
            continue
        done = sum(now_counts[s] for s in Task.DONE)
        peak_waiting = max(peak_waiting, now_counts["waiting"])
        finished = now_counts[Task.Status.FINISHED]
        reading = name == "sandbox-read" and Run.objects.filter(pk=run_id, pages__gte=5).exists()
        if faulted_at is None and (finished >= args.tasks // 4 if name != "sandbox-read" else reading):
            done_at_fault = finished
            log(f"{name}: {finished} finished, fault now")
            fault_started = time.monotonic()
            fault()
            faulted_at = time.monotonic()
            fault_seconds = faulted_at - fault_started
            log(f"{name}: fault over after {faulted_at - started:.0f} s of run")
            continue
        if faulted_at is not None and recovered_at is None and finished > done_at_fault:
            # the first task finished after the fault ended (counts polled every 0.5 s)
            recovered_at = time.monotonic()
        if done >= expected and (name != "sandbox-read" or not Run.objects.get(pk=run_id).is_active):
            break
        if time.monotonic() - last_repair > 10:
            repair()
            last_repair = time.monotonic()
    total = time.monotonic() - started
    final = counts(run_id) or Counter()
    refs = {route_run.route.outgoing.idempotency_reference(identifier or "", pk)
            for pk, identifier in Task.objects.filter(run_id=run_id).values_list("pk", "identifier")}
    seen = sandbox_records(box, division, refs)
    attempts = max(Task.objects.filter(run_id=run_id).values_list("attempts", flat=True), default=0)
    return {
        "experiment": name, "expected": expected, "finished": final[Task.Status.FINISHED],
        "failed": final[Task.Status.FAILED], "open": sum(final[s] for s in Task.OPEN),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1), "missing": len(refs - set(seen)),
        "max_attempts": attempts, "deferred": peak_waiting,
        "recovery": (recovered_at - faulted_at) if recovered_at and faulted_at else None, "total": total,
        "after": (started + total - faulted_at) if faulted_at else None, "at_fault": done_at_fault,
        "fault_seconds": fault_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker process (two processes)")
    parser.add_argument("--outage", type=float, default=120.0, help="seconds the sandbox stays down")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds Redis and PostgreSQL stay down")
    parser.add_argument("--timeout", type=float, default=900.0, help="per experiment")
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS))
    args = parser.parse_args(argv)
    wanted = [e.strip() for e in args.experiments.split(",") if e.strip()]
    unknown = set(wanted) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments: {', '.join(sorted(unknown))}")

    pg, redis_server = Postgres(), Redis()
    workers: Workers | None = None
    box: Any = None
    results: list[dict[str, Any]] = []
    try:
        pg.init()
        redis_server.start()
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DASH_VAR_DIR": str(WORK),
            "DATABASE_URL": pg.url,
            "CELERY_BROKER_URL": redis_server.url,
            "DASH_EXACT_QUOTA_REDIS_URL": redis_server.url,
            "DASH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        from tests.fixtures.sandbox import grant_client, start_sandbox

        call_command("migrate", verbosity=0)
        limits = {"SANDBOX_MINUTELY_LIMIT": "1000000", "SANDBOX_DAILY_LIMIT": "100000000"}
        box = start_sandbox(WORK / "sandbox", seed=True, SANDBOX_MINUTELY_LIMIT=limits["SANDBOX_MINUTELY_LIMIT"],
                            SANDBOX_DAILY_LIMIT=limits["SANDBOX_DAILY_LIMIT"])
        box.start_env = {**os.environ, "SANDBOX_DB_PATH": str(box.db_path), "SANDBOX_TIME_SCALE": "1",
                         "SANDBOX_CONTROL_TOKEN": box.control_token, **limits}
        client = grant_client(box, "chaos bench", unlimited=True)
        division = box.divisions[1]
        workers = Workers(env, args.concurrency)
        pair = [workers.start(), workers.start()]
        time.sleep(8)  # both ready (``celery worker`` takes a few seconds on a loaded machine)

        def kill() -> None:
            assert workers is not None
            workers.kill(pair.pop(0))
            pair.append(workers.start())

        def restart_redis() -> None:
            redis_server.stop()
            time.sleep(args.pause)
            redis_server.start()

        def restart_postgres() -> None:
            pg.stop()
            time.sleep(args.pause)
            pg.start()

        faults = {"kill": kill, "redis": restart_redis, "postgres": restart_postgres,
                  "sandbox": lambda: restart_sandbox(box, args.outage),
                  "sandbox-read": lambda: restart_sandbox(box, args.outage)}
        for name in wanted:
            log(f"experiment {name}: {args.tasks} creates")
            results.append(run_experiment(name, faults[name], box, client, division, args))
            log(json.dumps(results[-1]))
    finally:
        if workers is not None:
            workers.stop_all()
        if box is not None:
            box.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            from clients.usage import flush

            flush()  # the API-call counts this process gathered, while its database is still there
            connections.close_all()
        redis_server.stop()
        pg.stop()
    print(f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f} / {os.getloadavg()[2]:.1f}; "
          f"2 worker processes x {args.concurrency}, batch {args.batch}, sandbox outage {args.outage:g} s")
    print(f"{'experiment':<12} {'expected':>8} {'finished':>8} {'failed':>6} {'open':>5} {'dupes':>5} "
          f"{'missing':>7} {'max att':>7} {'deferred':>8} {'fault s':>7} {'resumed s':>9} {'all done s':>10} "
          f"{'total s':>7}")
    for r in results:
        recovery = f"{r['recovery']:.1f}" if r["recovery"] is not None else "-"
        after = f"{r['after']:.0f}" if r["after"] is not None else "-"
        print(f"{r['experiment']:<12} {r['expected']:>8} {r['finished']:>8} {r['failed']:>6} {r['open']:>5} "
              f"{r['duplicates']:>5} {r['missing']:>7} {r['max_attempts']:>7} {r['deferred']:>8} "
              f"{r['fault_seconds']:>7.0f} {recovery:>9} {after:>10} {r['total']:>7.0f}")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
