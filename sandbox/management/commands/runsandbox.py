"""``manage.py runsandbox --port 8001``: serve the Exact Online sandbox as its own process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.app import application
from sandbox.http import make_server
from sandbox.seed import ensure_seeded
from sandbox.store import get_store
from sandbox.webhooks import start_worker


class Command(BaseCommand):
    help = "Run the local Exact Online sandbox (OAuth, REST, limits, webhooks, fault injection)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-seed", action="store_true", help="do not seed an empty database")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_CONTROL_TOKEN:
            raise CommandError("SANDBOX_CONTROL_TOKEN (or SANDBOX_CONTROL_TOKEN_FILE) is required: the control API "
                               "(reset, clock, faults) answers only to that token.")
        store = get_store()
        if not options["no_seed"] and ensure_seeded(store):
            self.stdout.write("Seeded the demo administration.")
        start_worker()
        server = make_server(options["host"], options["port"], application)
        self.stdout.write(
            f"Exact Online sandbox on http://{options['host']}:{server.server_port}/ "
            f"(db {settings.SANDBOX_DB_PATH}, time scale {settings.SANDBOX_TIME_SCALE}; control API token in "
            f"SANDBOX_CONTROL_TOKEN or var/sandbox_control_token)", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
