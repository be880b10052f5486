"""Benchmark: export, dry run and import of a large configuration (the shipped integrations, copied N times).

    .venv/bin/python bench/bench_config_exchange.py [--copies 100]

Builds ``--copies`` copies of the shipped webshop ↔ Exact integrations (each 3 routes, 3 Incoming, 3 Outgoing,
3 transformers; 2 shared clients, 3 storages) in a throw-away SQLite database, then times: the export, the
YAML text, a dry run against the same database (everything unchanged), emptying the database, the import
(everything created), and a second dry run. Prints the size of the document and the time of each step.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-config-exchange-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

T = TypeVar("T")


def populate(copies: int) -> None:
    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, Transformer
    from integrations.seed import install_webshop_integrations, shop_client

    exact = HttpClient(name="Exact Online sandbox", kind="exact_online",
                       config={"base_url": "http://127.0.0.1:8001",
                               "client_id": "b81cc4de-d192-400e-bcb4-09254394c52a"})
    exact.save()
    shop = shop_client("http://127.0.0.1:8001", "bench-key")
    for n in range(copies):
        install_webshop_integrations(exact, shop)
        suffix = f" #{n}"
        for model in (Route, Incoming, Outgoing, Transformer):
            for obj in model.objects.exclude(name__contains=" #"):
                model.objects.filter(pk=obj.pk).update(name=obj.name + suffix)


def empty() -> None:
    from clients.models import HttpClient
    from connections.models import Incoming, Outgoing, Route, Storage, Transformer

    for route in Route.objects.all():
        route.delete()
    for model in (Incoming, Outgoing, Transformer, Storage, HttpClient):
        model.objects.all().delete()


def main(argv: list[str] | None = None) -> None:
    from configuration.documents import dump_document
    from configuration.export import export_config
    from configuration.importer import apply_import, plan_import

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    args = parser.parse_args(argv)
    call_command("migrate", verbosity=0)
    populate(args.copies)
    rows: list[tuple[str, float, str]] = []

    def timed(name: str, work: Callable[[], T], note: str = "") -> T:
        started = time.perf_counter()
        result = work()
        rows.append((name, time.perf_counter() - started, note))
        return result

    document = timed("export_config", export_config)
    text = timed("YAML text", lambda: dump_document(document, "yaml"))
    objects = sum(len(document[k]) for k in document if isinstance(document[k], list))
    plan = timed("dry run, all unchanged", lambda: plan_import(text))
    assert plan.ok and not plan.changes_anything, plan.as_dict()["counts"]
    timed("empty the database", empty)
    applied = timed("import (plan + apply)", lambda: apply_import(plan_import(text)))
    again = timed("second dry run", lambda: plan_import(text))
    assert not again.changes_anything
    print(f"{args.copies} copies: {objects} objects, document {len(text.encode()) / 1000:.0f} kB YAML "
          f"({applied.counts['create']} created by the import)")
    print(f"{'step':<26} {'seconds':>8}")
    for name, seconds, _note in rows:
        print(f"{name:<26} {seconds:>8.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
