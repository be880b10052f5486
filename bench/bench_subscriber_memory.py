"""Benchmark: the memory a run holds while reading 10,000 to 100,000 records (streaming pages, not lists).

    .venv/bin/python bench/bench_subscriber_memory.py [--sizes 10000 100000]

The Exact Online Subscriber reads generated pages of 1,000 rows (the HTTP layer is faked, so the numbers
show the reader, not the network; the sandbox version is ``bench/bench_incoming.py``) into a throw-away
SQLite database; every entity is counted and skipped. Prints tracemalloc's peak per size: it must stay flat
(a page or two), not grow with the read. The test suite keeps a small-scale check that pages are released
as they are read (tests/exact_online/test_subscriber_streaming.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-subscriber-memory-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

ROWS_PER_PAGE = 1000


@dataclass
class FakePage:
    results: list[dict[str, Any]]
    next_url: str | None


class GeneratedApi:
    """Pages made on the fly, as ``ExactApi.iter_pages`` would return them."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def iter_pages(self, path: str, *, division: int | None, params: Any, max_pages: int) -> Iterator[FakePage]:
        for n in range(self.pages):
            rows = [{"ID": str(uuid.uuid4()), "Name": f"Account {n}-{i}" * 3, "Timestamp": n * 1000 + i + 2}
                    for i in range(ROWS_PER_PAGE)]
            yield FakePage(rows, f"http://x/next/{n}" if n + 1 < self.pages else None)


def measure(records: int) -> tuple[int, float, int]:
    """Read ``records`` generated Accounts in one run: (entities read, seconds, tracemalloc peak bytes)."""
    from clients.models import HttpClient
    from connections.flow.read import Skip, execute_incoming_run
    from connections.models import Incoming, Run
    from exact_online.subscriber import ExactSubscriber

    pages = max(1, records // ROWS_PER_PAGE)
    ExactSubscriber.api = lambda self: GeneratedApi(pages)  # type: ignore[method-assign]
    client = HttpClient.objects.create(name=f"bench {records}", kind="exact_online",
                                       config={"base_url": "http://x", "client_id": "y"})
    incoming = Incoming.objects.create(
        name=f"stream {records}", subscriber="exact_online", http_client=client, query={"$select": "ID,Name"},
        config={"entity": "crm/Accounts", "endpoint": "sync", "divisions": "selected", "division_codes": [1]})
    run, _ = Run.enqueue(incoming)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        done = execute_incoming_run(run.pk, transform=lambda entity: Skip("counted only"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    assert done is not None and done.status == Run.Status.SUCCEEDED, done and done.error
    return done.entities_read, seconds, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    logging.getLogger("connections.flow.read").propagate = False  # the run keeps its log; a line per page here
    print(f"Subscriber memory, {ROWS_PER_PAGE:,} rows per page, tracemalloc on (slower than a real run)")
    print(f"{'records':>9} {'seconds':>8} {'records/s':>10} {'peak MiB':>9} {'peak / first':>13}")
    first = None
    for size in args.sizes:
        read, seconds, peak = measure(size)
        first = first or peak
        print(f"{read:>9,} {seconds:>8.1f} {read / seconds:>10,.0f} {peak / 2**20:>9.1f} {peak / first:>13.2f}")


if __name__ == "__main__":
    main()
