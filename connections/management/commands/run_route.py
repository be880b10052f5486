"""``manage.py run_route <id>``: run a route in this process, through the same functions a worker runs."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connections.flow import routing
from connections.models import Route


class Command(BaseCommand):
    help = "Run a route now in this process (or --dry-run: show what it would publish) and print its counts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("route_id", type=int)
        parser.add_argument("--dry-run", action="store_true", help="Read a sample and transform it; write nothing.")
        parser.add_argument("--limit", type=int, default=5, help="Sample size of a dry run.")

    def handle(self, *args: Any, **options: Any) -> None:
        route = Route.objects.select_related("incoming", "outgoing").filter(pk=options["route_id"]).first()
        if route is None:
            raise CommandError(f"No route {options['route_id']}.")
        if options["dry_run"]:
            for row in routing.dry_run(route, limit=options["limit"]):
                self.stdout.write(json.dumps(row, indent=2, default=str, ensure_ascii=False))
            return
        try:
            route_run = routing.run_inline(route)
        except routing.RouteBusy as busy:
            raise CommandError(str(busy)) from None
        counts = routing.counters(route_run)
        self.stdout.write(f"Run {route_run.pk} of {route}: {route_run.get_status_display()}; "
                          + ", ".join(f"{name} {n}" for name, n in counts.items() if n))
