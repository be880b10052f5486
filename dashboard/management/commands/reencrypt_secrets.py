"""``manage.py reencrypt_secrets [--dry-run]``: every stored secret under the first FIELD_ENCRYPTION_KEY.

Key rotation: set ``FIELD_ENCRYPTION_KEY=NEW,OLD`` (restart the processes), run this, then set
``FIELD_ENCRYPTION_KEY=NEW``. Nothing is written if any value cannot be decrypted with the configured keys.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lib.crypto import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEY, so older keys can go."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        report = reencrypt_all(dry_run=options["dry_run"])
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} stored value(s) cannot be decrypted with any key in FIELD_ENCRYPTION_KEY, "
                f"so nothing was changed. Add the key they were written with, then run this again: "
                + ", ".join(report.unreadable[:20]) + (" ..." if len(report.unreadable) > 20 else ""))
        for label, count in sorted(report.reencrypted.items()):
            self.stdout.write(f"  {label}: {count}")
        verb = "Would re-encrypt" if options["dry_run"] else "Re-encrypted"
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {report.total} value(s) under the first key of FIELD_ENCRYPTION_KEY."
            + ("" if options["dry_run"] else " Older keys can now be removed from FIELD_ENCRYPTION_KEY.")))
