"""``python -m bench [name ...]``: run every ``bench/bench_*.py`` (or the named ones) and print their tables.

Each benchmark runs in a process of its own, as ``python -m bench.bench_NAME`` with its default options: a
benchmark points Django at its own throw-away database through the environment before Django starts, which
only works once per process (in a shared process every benchmark after the first, and the first too if the
runner started Django, would work on the settings already loaded: the developer's own database).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(n[6:] for n in names)})")
        return 2
    failed = []
    for name in wanted:
        print(f"\n== {name} ==", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=BENCH_DIR.parent).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
