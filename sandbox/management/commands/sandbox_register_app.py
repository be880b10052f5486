"""``manage.py sandbox_register_app --name NAME --redirect-uri URI``: prints one JSON object (id + secrets)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from sandbox.oauth import register_app
from sandbox.store import get_store


class Command(BaseCommand):
    help = "Register an app in the Exact Online sandbox; prints client_id, client_secret and webhook_secret as JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--redirect-uri", required=True)
        parser.add_argument("--scopes", default="", help="comma-separated Exact scope labels (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        app = register_app(options["name"], options["redirect_uri"], scopes=(options.get("scopes") or "").split(","),
                           store=get_store())
        self.stdout.write(json.dumps(app))
