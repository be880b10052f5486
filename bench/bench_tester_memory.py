"""Peak memory of the transformer tester on small hostile input (issue 10, item 5).

A ``split`` with a parent key over a wildcard path copies the whole parent, list included, into every branch;
tracing copies every entity again. Quadratic: 22 KB of input could take a gigabyte. The limits
(``DASH_TRANSFORM_*``) cap it. Run: ``python bench/bench_tester_memory.py [--items N]``; each scenario runs
in a fresh process and reports its peak resident memory and tracemalloc's peak.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPLIT_WITH_PARENT = [{"type": "split", "params": {"path": "Lines.*", "parent_key": "order"}}]


def hostile_input(items: int) -> str:
    """One order whose lines are tiny: about 11 bytes per line of input."""
    return json.dumps({"Lines": [{"i": n} for n in range(items)]}, separators=(",", ":"))


def _child(items: int, use_tracemalloc: bool) -> dict[str, Any]:
    """Run one test in this process (a fresh one per scenario) and report its peaks."""
    import os
    import resource
    import time
    import tracemalloc

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from connections.transformers import Context, InMemoryStorage
    from connections.transformers.tester import test_chain

    text = hostile_input(items)
    kwargs: dict[str, Any] = {}
    try:
        from connections.flow.transform import tester_limits  # present once the limits exist
    except ImportError:
        pass
    else:
        kwargs["limits"] = tester_limits()
    if use_tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    report = test_chain(json.dumps(SPLIT_WITH_PARENT), text, Context(storage=InMemoryStorage()), **kwargs)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else 0
    entity = report.entities[0]
    return {"input_bytes": len(text), "outputs": len(entity.outputs), "status": entity.status,
            "message": (entity.error or {}).get("message", "")[:90], "seconds": round(seconds, 2),
            "tracemalloc_mb": round(peak / 2**20, 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="*", default=[500, 2000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help="also measure with tracemalloc (slower)")
    args, _unknown = parser.parse_known_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.child, args.tracemalloc)))
        return 0
    print(f"Tester memory on split-with-parent input · Python {platform.python_version()} · fresh process each")
    print(f"{'lines':>6} {'input':>8} {'outputs':>8} {'status':>7} {'seconds':>8} {'tracemalloc MB':>15} "
          f"{'max RSS MB':>11}  message")
    for items in args.items:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(items)]
        if args.tracemalloc:
            command.append("--tracemalloc")
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0:
            print(f"{items:>6} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{items:>6} {row['input_bytes']:>8,} {row['outputs']:>8,} {row['status']:>7} {row['seconds']:>8} "
              f"{row['tracemalloc_mb']:>15} {row['max_rss_mb']:>11}  {row['message']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
