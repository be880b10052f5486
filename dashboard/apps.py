from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


def create_cache_table(using: str = "default", **kwargs: Any) -> None:
    """``migrate`` also makes the database cache's table (idempotent; nothing to do for Redis)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


def create_role_groups(using: str = "default", **kwargs: Any) -> None:
    """The role groups (migration 0002 makes them too) come back after ``flush``, which sends post_migrate:
    a transactional test empties the database, and the roles are data every later test may rely on."""
    from django.contrib.auth.models import Group

    for name in ("Administrator", "Editor", "Viewer"):
        Group.objects.using(using).get_or_create(name=name)


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="dashboard.create_cache_table")
        post_migrate.connect(create_role_groups, sender=self, dispatch_uid="dashboard.create_role_groups")
        from . import passwords  # noqa: F401  (the demo password's sign-in receiver)

        if getattr(settings, "OIDC_ENABLED", False):
            from .sso import connect

            connect()
