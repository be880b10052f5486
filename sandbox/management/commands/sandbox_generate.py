"""``manage.py sandbox_generate --entity Accounts --count 100000 --division 101001``: bulk test data."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sandbox.seed import DIVISIONS, ensure_seeded, generate
from sandbox.store import get_store


class Command(BaseCommand):
    help = "Generate N records of an entity in the Exact Online sandbox (for benchmarks)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--entity", required=True, help="Accounts, crm/Accounts, Items, ...")
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--division", type=int, default=DIVISIONS[0]["Code"])

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        ensure_seeded(store)
        started = time.perf_counter()
        try:
            made = generate(store, options["entity"], options["count"], options["division"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created {made} {options['entity']} in division {options['division']} "
                          f"in {time.perf_counter() - started:.1f} s.")
