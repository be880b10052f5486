"""``manage.py sandbox_shop_key --name NAME``: create an API key of the demo webshop; prints one JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from sandbox.shop.seed import ensure_shop_seeded
from sandbox.shop.store import shop_store


class Command(BaseCommand):
    help = "Create an API key of the sandbox's demo webshop; prints {key, name} as JSON (seeds an empty shop first)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True, help="who will use the key (shown on the shop page)")

    def handle(self, *args: Any, **options: Any) -> None:
        shop = shop_store()
        ensure_shop_seeded(shop)
        key = shop.create_key(options["name"])
        self.stdout.write(json.dumps({"key": key["key"], "name": key["name"]}))
