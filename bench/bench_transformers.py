"""Entities per second through a realistic 8-step transformer chain on flat Exact-like entities.

Run: ``python bench/bench_transformers.py [--entities N]`` (or ``python -m bench.bench_transformers``).
One process, one core; the chain is compiled once, as a route run does. Target: 20,000 entities/s.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connections.transformers import Context, InMemoryStorage, compile_chain, run_chain

TARGET = 20_000

COUNTRIES = [
    ("NL", "Nederland"),
    ("BE", "België"),
    ("DE", "Duitsland"),
    ("FR", "Frankrijk"),
    ("GB", "Verenigd Koninkrijk"),
]

CHAIN: list[dict[str, Any]] = [
    {"type": "filter", "params": {"condition": "Blocked == `false`", "reason": "account &{Code} is blocked"}},
    {"type": "move", "params": {"source": "Name", "target": "name"}},
    {
        "type": "key_map",
        "params": {"mapping": {"Code": "code", "Email": "email", "Phone": "phone", "City": "city", "Postcode": "zip"}},
    },
    {"type": "cast", "params": {"path": "Modified", "to": "date"}},
    {
        "type": "value_map",
        "params": {"path": "Country", "table": [{"from": a, "to": b} for a, b in COUNTRIES], "when_missing": "keep"},
    },
    {"type": "set_value", "params": {"path": "reference", "template": "EXACT-&{code}"}},
    {"type": "remove", "params": {"paths": ["Blocked", "Division", "Created", "Creator"]}},
    {"type": "skip_unchanged", "params": {"store": "bench-seen", "key": "&{ID}"}},
]


def make_entities(count: int) -> list[dict[str, Any]]:
    """Flat Account-like entities (17 fields), as a subscriber would hand them over."""
    base_ms = 1_774_755_000_000
    return [
        {
            "ID": f"7b0e1c2a-0000-4000-8000-{number:012d}",
            "Code": f"{number:>18}",
            "Name": f"Klant {number} B.V.",
            "Email": f"info{number}@example.nl",
            "Phone": "+31 20 123 4567",
            "City": "Amsterdam",
            "Postcode": "1011 AB",
            "Country": COUNTRIES[number % len(COUNTRIES)][0],
            "Blocked": number % 50 == 0,
            "Division": 441609,
            "Created": f"/Date({base_ms - 86_400_000})/",
            "Creator": "0b2c6f4e-1111-4a2b-9c3d-222233334444",
            "Modified": f"/Date({base_ms + number * 1000})/",
            "CreditLinePurchase": None,
            "CreditLineSales": 2500.0,
            "IsSupplier": False,
            "Status": "C",
        }
        for number in range(count)
    ]


def measure(
    label: str, chain: Any, entities: list[dict[str, Any]], *, trace: bool = False, repeat: int = 3
) -> dict[str, Any]:
    """Best of ``repeat`` passes (a shared machine only ever makes a pass slower), each with fresh storage."""
    compiled = compile_chain(chain)
    seconds = float("inf")
    for _ in range(repeat):
        context = Context(storage=InMemoryStorage())
        out = skipped = 0
        started = time.perf_counter()
        for entity in entities:
            result = run_chain(compiled, entity, context, trace=trace)
            out += len(result.entities)
            skipped += result.skipped_reason is not None
        seconds = min(seconds, time.perf_counter() - started)
    return {
        "label": label,
        "n": len(entities),
        "out": out,
        "skipped": skipped,
        "s": seconds,
        "rate": len(entities) / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="passes per scenario; the fastest counts")
    args, _unknown = parser.parse_known_args(argv)  # `python -m bench transformers` passes its own names
    entities = make_entities(args.entities)
    rows = [measure("8-step chain", CHAIN, entities, repeat=args.repeat)]
    sample = entities[: max(1, args.entities // 10)]
    rows.append(measure("8-step chain, with trace (tester)", CHAIN, sample, trace=True, repeat=args.repeat))
    for step in CHAIN:
        rows.append(measure(f"  {step['type']} alone", [step], entities, repeat=args.repeat))
    print(f"Transformer engine · Python {platform.python_version()} · {platform.machine()} · one process")
    print(f"best of {args.repeat} passes per scenario")
    print(f"{'scenario':<36} {'entities':>9} {'out':>7} {'skipped':>8} {'seconds':>8} {'entities/s':>11}")
    for row in rows:
        print(
            f"{row['label']:<36} {row['n']:>9,} {row['out']:>7,} {row['skipped']:>8,} "
            f"{row['s']:>8.3f} {row['rate']:>11,.0f}"
        )
    chain_rate = rows[0]["rate"]
    verdict = "meets" if chain_rate >= TARGET else "MISSES"
    print(f"\n8-step chain: {chain_rate:,.0f} entities/s, {verdict} the target of {TARGET:,}/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
