"""First-run set-up for ``make run``: a demo administrator when there is no user, then the demo seeds.

Other apps contribute demo data through ``dashboard.bootstrap.register_seed`` (e.g. the demo HTTP
client that points at the sandbox).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from dashboard.bootstrap import run_seeds
from dashboard.passwords import DEMO_PASSWORD, DEMO_USERNAME


class Command(BaseCommand):
    help = "Create a demo administrator if there is no user, and seed demo data."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model().objects
        if not users.exists() and settings.PRODUCTION:
            self.stderr.write("DASH_ENV=production: no demo administrator (admin/admin) is created. Create the "
                              "first administrator with: python manage.py createsuperuser")
        elif not users.exists():
            admin = users.create_superuser(DEMO_USERNAME, "admin@example.com", DEMO_PASSWORD)
            admin.groups.add(Group.objects.get_or_create(name="Administrator")[0])
            self.stdout.write(self.style.SUCCESS(
                f"Created the demo administrator: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'"
                " (you will be asked to change it when you first sign in)."
            ))
        else:
            self.stdout.write("Users exist already; no demo administrator created.")
        for line in run_seeds():
            self.stdout.write(line)
