"""``manage.py import_config FILE|--dir DIR [--dry-run]``: plan (and apply) a configuration document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from configuration.documents import DocumentError
from configuration.export import read_directory
from configuration.importer import ImportPlan, ImportRefused, apply_import, plan_import


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def report(plan: ImportPlan) -> str:
    """The plan as text: per object its action and diff, then what is missing and what to enter."""
    lines = [*(f"ERROR {error}" for error in plan.errors)]
    for obj in plan.objects:
        lines.append(f"{obj.action:<9} {obj.section}/{obj.key}")
        lines += [f"            {change.path}: {_short(change.old)} → {_short(change.new)}" for change in obj.changes]
        lines += [f"            ! {problem}" for problem in obj.problems]
    lines += [f"MISSING   {item}" for item in plan.missing]
    lines += [f"TO ENTER  {item}" for item in plan.to_enter]
    counts = ", ".join(f"{n} {action}" for action, n in plan.counts.items() if n)
    lines.append(f"{'Applied' if plan.applied else 'Dry run'}: {counts or 'nothing in the document'}."
                 + ("" if plan.ok else " Nothing can be applied until the errors above are fixed."))
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Import a configuration document (JSON or YAML; '-' reads stdin), after a dry run; all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="The document; '-' for stdin.")
        parser.add_argument("--dir", help="Read one file per object from this folder (what export_config --dir wrote).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the plan as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["file"]) == bool(options["dir"]):
            raise CommandError("Give a file (or '-') or --dir.")
        try:
            if options["dir"]:
                text: str | bytes = read_directory(Path(options["dir"]))
            elif options["file"] == "-":
                text = sys.stdin.buffer.read(settings.CONFIG_IMPORT_MAX_BYTES + 1)
            else:
                with Path(options["file"]).open("rb") as handle:  # at most one byte over: refused by its size
                    text = handle.read(settings.CONFIG_IMPORT_MAX_BYTES + 1)
        except (OSError, DocumentError) as exc:
            raise CommandError(str(exc)) from exc
        plan = plan_import(text)
        if plan.ok and not options["dry_run"]:
            try:
                plan = apply_import(plan)
            except ImportRefused as exc:
                plan = exc.plan
        self.stdout.write(json.dumps(plan.as_dict(), indent=2, default=str) + "\n" if options["json"] else report(plan),
                          ending="")
        if not plan.ok:
            raise CommandError("Nothing was imported.")
