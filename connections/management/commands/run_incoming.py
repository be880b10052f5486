"""``manage.py run_incoming <id>``: read an Incoming in this process, through the same code a worker runs."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connections.flow.read import execute_incoming_run
from connections.models import Incoming, Run, TriggerSource


class Command(BaseCommand):
    help = "Run an Incoming now (or resume a failed run with --resume RUN_ID) and print its counts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("incoming_id", nargs="?", type=int)
        parser.add_argument("--all", action="store_true", help="Run every enabled Incoming.")
        parser.add_argument("--resume", type=int, metavar="RUN_ID", help="Continue a failed run from its checkpoint.")

    def handle(self, *args: Any, **options: Any) -> None:
        runs: list[Run] = []
        if options["resume"]:
            failed = Run.objects.filter(pk=options["resume"]).first()
            if failed is None:
                raise CommandError(f"No run {options['resume']}.")
            runs.append(failed.resume())
        elif options["all"]:
            for incoming in Incoming.objects.filter(enabled=True):
                runs.append(Run.enqueue(incoming, trigger=TriggerSource.MANUAL)[0])
        elif options["incoming_id"]:
            found = Incoming.objects.filter(pk=options["incoming_id"]).first()
            if found is None:
                raise CommandError(f"No Incoming {options['incoming_id']}.")
            run, created = Run.enqueue(found, trigger=TriggerSource.MANUAL)
            if not created:
                raise CommandError(f"Run {run.pk} of {found} is already {run.status}; not started twice.")
            runs.append(run)
        else:
            raise CommandError("Give an Incoming id, --all or --resume RUN_ID.")
        for run in runs:
            done = execute_incoming_run(run.pk)
            while done is not None and done.status == Run.Status.QUEUED and done.waiting_until:
                # In the foreground only: a worker defers the run instead (connections.waits).
                self.stdout.write(f"Run {done.pk}: {done.wait_reason} until {done.waiting_until:%H:%M:%S} UTC; waiting")
                time.sleep(max(0.0, (done.waiting_until - timezone.now()).total_seconds()) + 0.1)
                done = execute_incoming_run(run.pk)
            if done is None:
                continue
            self.stdout.write(
                f"Run {done.pk} of {done.incoming}: {done.status}; {done.entities_read} records, "
                f"{done.api_calls} API calls, {done.pages} pages, {done.tasks_created} tasks"
                + (f"; error: {done.error}" if done.error else "")
            )
            if done.status == Run.Status.FAILED:
                raise CommandError(f"Run {done.pk} failed: {done.error}")
