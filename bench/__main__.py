"""``python -m bench [name ...]``: run every ``bench/bench_*.py`` (or the named ones) and print their tables."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    for name in wanted:
        print(f"\n== {name} ==")
        entry = importlib.import_module(f"bench.{name}").main
        # Modules that parse options get none here (their defaults), not the names given to this runner.
        if inspect.signature(entry).parameters:
            entry([])
        else:
            entry()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
