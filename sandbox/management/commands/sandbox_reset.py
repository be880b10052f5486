"""``manage.py sandbox_reset``: wipe the sandbox database and seed the demo administration again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sandbox.seed import reset_sandbox
from sandbox.store import get_store


class Command(BaseCommand):
    help = "Reset the Exact Online sandbox to its seeded demo administration."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--keep-apps", action="store_true", help="keep registered apps and token chains")
        parser.add_argument("--no-seed", action="store_true", help="leave the administration empty")

    def handle(self, *args: Any, **options: Any) -> None:
        reset_sandbox(get_store(), keep_apps=options["keep_apps"], seed=not options["no_seed"])
        self.stdout.write("Sandbox reset.")
