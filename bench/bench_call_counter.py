"""Benchmark: what counting every API call costs (``clients.usage.count_call``: gathered in the process, written
at most every ``DASH_CALL_COUNT_FLUSH_SECONDS``; ``--flush-each`` writes after every call, the worst case).

    .venv/bin/python bench/bench_call_counter.py [--calls 5000] [--database-url postgres://...]

Counts ``--calls`` calls over 3 divisions into a throw-away SQLite database (or the PostgreSQL database given,
which it creates and drops), one at a time as the transport does, and prints the time per call.
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
WORK = Path(tempfile.mkdtemp(prefix="bench-call-counter-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--flush-each", action="store_true")
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from clients.models import ApiCallCount, HttpClient
    from clients.usage import count_call, flush, total_calls

    client = HttpClient.objects.create(name="bench", kind="exact_online", config={})
    started = time.perf_counter()
    for i in range(args.calls):
        count_call(client.pk, (101001, 101002, None)[i % 3])
        if args.flush_each:
            flush()
    flush()
    seconds = time.perf_counter() - started
    since = ApiCallCount.objects.order_by("hour").values_list("hour", flat=True).first()
    assert since is not None and total_calls(since) == args.calls
    mode = "write per call" if args.flush_each else "gathered"
    print(f"| database | mode | calls | per call |\n|---|---|---|---|\n| {connection.vendor} | {mode} | "
          f"{args.calls:,} | {seconds / args.calls * 1000:.3f} ms |")


if __name__ == "__main__":
    main()
