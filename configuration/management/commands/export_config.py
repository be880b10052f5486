"""``manage.py export_config``: the configuration as one JSON/YAML document, or one file per object (``--dir``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configuration.documents import SECTIONS, dump_document
from configuration.export import export_config, write_directory


class Command(BaseCommand):
    help = "Export configurations (no secrets, no tokens) as one document on stdout, or one file per object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("json", "yaml"), default=None,
                            help="json (default on stdout) or yaml (default with --dir)")
        parser.add_argument("--dir", help="Write one file per object into this folder (for Git).")
        for section in SECTIONS:
            parser.add_argument(f"--{section[:-1]}", dest=section, action="append", default=[], metavar="KEY",
                                help=f"Export this {section[:-1]} (and what it uses); repeatable.")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = {section: options[section] for section in SECTIONS if options[section]}
        try:
            document = export_config(chosen or None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["dir"]:
            written = write_directory(document, Path(options["dir"]), options["format"] or "yaml")
            self.stderr.write(f"Wrote {len(written)} files to {options['dir']}.")
        else:
            self.stdout.write(dump_document(document, options["format"] or "json"), ending="")
