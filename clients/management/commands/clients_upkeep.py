"""``manage.py clients_upkeep [--keepalive] [--prune]``: the scheduled upkeep, by hand (same code as the tasks)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from clients.tasks import keep_alive_idle_grants, prune_old_logs


class Command(BaseCommand):
    help = "Refresh idle OAuth grants (keep-alive) and/or prune old auth and request logs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--keepalive", action="store_true", help="refresh grants idle for DASH_KEEPALIVE_IDLE_DAYS")
        parser.add_argument("--idle-days", type=float, default=None)
        parser.add_argument("--prune", action="store_true", help="delete logs older than DASH_LOG_RETENTION_DAYS")
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        both = not options["keepalive"] and not options["prune"]
        if options["keepalive"] or both:
            self.stdout.write(f"keep-alive: {keep_alive_idle_grants(idle_days=options['idle_days'])}")
        if options["prune"] or both:
            self.stdout.write(f"prune: {prune_old_logs(days=options['days'])}")
