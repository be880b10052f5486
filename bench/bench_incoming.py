"""Benchmark: reading 10,000 and 100,000 Accounts from the sandbox, ours next to the public ``exactonline`` client.

    .venv/bin/python bench/bench_incoming.py [--sizes 10000 100000] [--runner]

Starts its own sandbox (minutely limit lifted, so the numbers show our code, not the throttle) and a
throw-away database, grants an HTTP Client through the client type's code path, then reads Accounts:

- ``ours (auto)``: the Exact Online Subscriber as a run uses it, auto endpoint (bulk for a full read),
  streaming pages and dropping them (what a run does after writing tasks);
- ``ours (reader)`` with ``--runner``: the whole run, tasks written to the database;
- ``exactonline`` (PyPI, ossobv): ``restv1(GET('crm/Accounts?$select=…'))``, which follows ``__next``
  over the standard endpoint and returns one list.

For each: API calls (counted by the sandbox), records per call, records per second, peak RSS growth
(psutil, sampled every 20 ms) and the minutes the calls would take at Exact's 60 calls per minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-incoming-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.core.management import call_command  # noqa: E402

from tests.fixtures.sandbox import Sandbox, grant_client, start_sandbox  # noqa: E402

SELECT = "ID,Code,Name,City,Email,Modified"
DIVISIONS = {10_000: 101001, 100_000: 101002}


class PeakRss:
    """Samples this process's RSS in a thread; ``growth`` is the peak above the start, in MiB."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth(self) -> float:
        return (self.peak - self.start) / 2**20


def api_calls(box: Sandbox) -> int:
    return int(box.counters()["counters"].get("api_requests", 0))


def measure(box: Sandbox, name: str, size: int, read: Callable[[], int]) -> dict[str, Any]:
    box._control("DELETE", "counters")
    import gc

    gc.collect()
    with PeakRss() as rss:
        started = time.perf_counter()
        records = read()
        seconds = time.perf_counter() - started
    calls = api_calls(box)
    return {"name": name, "size": size, "records": records, "calls": calls, "per_call": records / max(calls, 1),
            "per_second": records / seconds, "seconds": seconds, "rss": rss.growth}


def ours(client: Any, division: int, *, runner: bool = False) -> Callable[[], int]:
    from connections.flow.read import execute_incoming_run
    from connections.models import Incoming, Run

    incoming = Incoming.objects.create(
        name=f"bench {division} {time.time()}", subscriber="exact_online", http_client=client,
        query={"$select": SELECT}, config={"entity": "crm/Accounts", "divisions": "selected",
                                           "division_codes": [division]})

    def read() -> int:
        if runner:
            run, _ = Run.enqueue(incoming)
            done = execute_incoming_run(run.pk)
            assert done is not None and done.status == Run.Status.SUCCEEDED, done and done.error
            return done.entities_read
        subscriber = incoming.subscriber_class(incoming)
        return sum(len(page.entities) for page in subscriber.read(division))

    return read


def public_client(box: Sandbox, division: int) -> Callable[[], int]:
    import exactonline.rawapi as rawapi
    from exactonline.api import ExactApi
    from exactonline.http import Options
    from exactonline.resource import GET
    from exactonline.storage.base import ExactOnlineConfig, MissingSetting

    plain_http = Options()  # the sandbox speaks http on loopback; the client insists on https otherwise
    plain_http.protocols = ("http", "https")
    rawapi.opt_secure = plain_http

    class MemoryStorage(ExactOnlineConfig):
        def __init__(self, data: dict[str, dict[str, str]]) -> None:
            self.data = data

        def get(self, section: str, option: str) -> str:
            try:
                return self.data[section][option]
            except KeyError:
                raise MissingSetting(option) from None

        def set(self, section: str, option: str, value: Any) -> None:
            self.data.setdefault(section, {})[option] = str(value)

    app, token = box.connect("bench public client", "http://localhost/callback", divisions=[division])
    storage = MemoryStorage({
        "server": {"auth_url": f"{box.url}/api/oauth2/auth", "rest_url": f"{box.url}/api",
                   "token_url": f"{box.url}/api/oauth2/token"},
        "application": {"base_url": "http://localhost", "client_id": app["client_id"],
                        "client_secret": app["client_secret"], "iteration_limit": "1000000"},
        "transient": {"access_token": token["access_token"], "refresh_token": token["refresh_token"],
                      "access_expiry": str(int(time.time()) + 590), "division": str(division)},
    })
    api = ExactApi(storage=storage)

    def read() -> int:
        rows = api.restv1(GET(f"crm/Accounts?$select={SELECT}"))
        return len(rows)

    return read


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runner", action="store_true", help="also run the whole run (tasks written)")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    box = start_sandbox(WORK / "sandbox", seed=True)
    created: list[Any] = []
    try:
        box.set_limits(minutely=1_000_000, daily=10_000_000)
        client = grant_client(box, "bench", divisions=list(DIVISIONS.values()))
        results = []
        created.append(client)
        for size in args.sizes:
            division = DIVISIONS.get(size, 101002)
            box.generate("Accounts", size, division)
            results.append(measure(box, "ours (auto: bulk)", size, ours(client, division)))
            if args.runner:
                results.append(measure(box, "ours (reader + tasks)", size, ours(client, division, runner=True)))
            results.append(measure(box, "exactonline (PyPI)", size, public_client(box, division)))
    finally:
        box.stop()
        # Under ``python -m bench`` Django was set up before this module chose its throw-away database.
        from clients.models import HttpClient
        from connections.models import Incoming

        Incoming.objects.filter(http_client__in=created).delete()
        HttpClient.objects.filter(pk__in=[c.pk for c in created]).delete()
    header = f"{'reader':<24}{'generated':>10}{'records':>10}{'API calls':>11}{'rec/call':>10}{'rec/s':>10}" \
             f"{'seconds':>9}{'peak RSS +MiB':>15}{'min @60/min':>13}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['name']:<24}{r['size']:>10,}{r['records']:>10,}{r['calls']:>11,}{r['per_call']:>10.1f}"
              f"{r['per_second']:>10,.0f}{r['seconds']:>9.1f}{r['rss']:>15.1f}{r['calls'] / 60:>13.1f}")
    print("\n'records' includes the sandbox's seeded demo Accounts of that division; API calls are the "
          "sandbox's count of REST requests during the read (token calls excluded).")


if __name__ == "__main__":
    main()
