"""Benchmark: reading 10,000 and 100,000 demo-webshop orders through the HTTP Subscriber (cursor paging).

    .venv/bin/python bench/bench_shop_orders.py [--sizes 10000 100000] [--page-size 250] [--paging cursor]

Starts its own sandbox (the shop's rate limit off, so the numbers show our code, not the throttle) and a
throw-away database, creates a generic HTTP Client with the shop's API key and an Incoming on ``/orders``,
appends generated orders up to each size, then streams the pages as a run does (each page dropped after
counting). For each size: API calls (counted by the sandbox), records per call (should equal the page
size), records per second and peak RSS growth (psutil, sampled every 20 ms): flat from 10k to 100k.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-shop-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench.bench_incoming import PeakRss  # noqa: E402
from tests.fixtures.sandbox import Sandbox, start_sandbox  # noqa: E402

PAGING = {  # how the subscriber pages through the shop in each style
    "cursor": {"paging": "cursor", "cursor_param": "cursor", "cursor_path": "next_cursor"},
    "link": {"paging": "link"},
    "next_url": {"paging": "next_url", "next_url_path": "next_url"},
}


def shop_calls(box: Sandbox) -> int:
    return sum(int(n) for n in box.shop.counters()["requests_by_status"].values())


def measure(box: Sandbox, incoming: Any, size: int) -> dict[str, Any]:
    import gc

    box.shop._control("DELETE", "counters")
    gc.collect()
    subscriber = incoming.subscriber_class(incoming)
    pages = 0
    with PeakRss() as rss:
        started = time.perf_counter()
        records = 0
        for division in subscriber.divisions():
            for page in subscriber.read(division):
                records += len(page.entities)
                pages += 1
        seconds = time.perf_counter() - started
    calls = shop_calls(box)
    return {"size": size, "records": records, "calls": calls, "pages": pages, "per_call": records / max(calls, 1),
            "per_second": records / seconds, "seconds": seconds, "rss": rss.growth}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--paging", choices=sorted(PAGING), default="cursor")
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    from clients.models import HttpClient
    from connections.models import Incoming
    from integrations.seed import shop_client

    box = start_sandbox(WORK / "sandbox", seed=True)
    created: list[Any] = []
    results = []
    try:
        box.shop.set_limits(per_minute=0, max_page_size=max(args.page_size, 250))
        client = shop_client(box.url, box.shop.create_key("bench"), name=f"bench shop {time.time()}")
        created.append(client)
        incoming = Incoming.objects.create(
            name=f"bench shop orders {time.time()}", subscriber="http", http_client=client,
            config={"method": "GET", "request_path": "/orders", "items": "data", "id_field": "id",
                    "size_param": "limit", "page_size": args.page_size, **PAGING[args.paging]})
        have = box.shop.counters()["records"]["orders"]
        for size in sorted(args.sizes):
            if size > have:
                box.shop.generate(size - have)
                have = size
            results.append(measure(box, incoming, have))
    finally:
        box.stop()
        # Under ``python -m bench`` Django was set up before this module chose its throw-away database.
        Incoming.objects.filter(http_client__in=created).delete()
        HttpClient.objects.filter(pk__in=[c.pk for c in created]).delete()
    print(f"HTTP Subscriber, paging {args.paging}, page size {args.page_size}")
    header = f"{'orders':>10}{'records':>10}{'API calls':>11}{'rec/call':>10}{'rec/s':>10}{'seconds':>9}" \
             f"{'peak RSS +MiB':>15}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['size']:>10,}{r['records']:>10,}{r['calls']:>11,}{r['per_call']:>10.1f}{r['per_second']:>10,.0f}"
              f"{r['seconds']:>9.1f}{r['rss']:>15.1f}")
    print("\n'orders' includes the 25 seeded ones; API calls are the shop's count of requests during the read.")


if __name__ == "__main__":
    main()
