"""The audit trail (``AuditEntry``) and the version history of configuration objects (django-simple-history).

One mechanism: every tracked model gets a historical table here (``register(..., app="audit")``); each new
historical record becomes one ``AuditEntry`` with the field-level diff (``audit.signals``). Secrets are never
copied into history: the encrypted ``secrets`` column and ``password`` are excluded and only a keyed
fingerprint per secret is kept (``secret_marks``), so a diff can say "changed" and nothing more.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from simple_history import register

from alerts.models import Channel, MaintenanceWindow, Rule
from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, Storage, Transformer
from webhooks.models import Webhook

__all__ = ["TRACKED", "AuditEntry", "RunVersions", "VersionExtras"]


class VersionExtras(models.Model):
    """Columns every historical record carries besides the model's own fields."""

    history_ip = models.GenericIPAddressField(null=True, blank=True)
    # A keyed fingerprint per secret (never the secret): a diff shows "changed" when one differs.
    secret_marks = models.JSONField(default=dict, blank=True)
    # Routes: the transformer chain (ids in order) at this version; the chain is a through table.
    chain = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


# model -> fields left out of its history (runtime state, bookkeeping, secrets).
TRACKED: dict[type[models.Model], list[str]] = {
    Transformer: [],
    Route: ["skipped_fires", "last_skipped_at", "last_skip_reason", "periodic_task"],
    Incoming: ["secrets"],
    Outgoing: ["secrets"],
    HttpClient: ["secrets", "status", "status_message"],
    Webhook: ["secrets", "drain_queued"],
    Storage: [],
    Channel: ["secrets", "last_ok_at", "last_error_at", "last_error"],
    Rule: [],
    MaintenanceWindow: [],
    get_user_model(): ["password", "last_login"],
}

for _model, _excluded in TRACKED.items():
    register(_model, app="audit", excluded_fields=_excluded, bases=[VersionExtras],
             user_related_name="+")


class AuditEntry(models.Model):
    """One line of the audit trail: who did what to which object, when, from which address, and the diff.

    ``changes`` maps a field to ``[old, new]``, or to ``"changed"`` for a secret. ``history_id`` points at the
    historical record of a configuration change (its version), when there is one.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        RESTORE = "restore", "Restored a version"
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        LOGOUT = "logout", "Signed out"
        TWO_FACTOR = "two_factor", "Two-factor changed"
        ROLE = "role", "Role changed"
        DEACTIVATE = "deactivate", "Deactivated"
        REACTIVATE = "reactivate", "Reactivated"
        PASSWORD_RESET = "password_reset", "Password reset sent"
        BULK = "bulk", "Task bulk action"
        RUN = "run", "Run started by hand"
        GRANT = "grant", "Access granted"
        REVOKE = "revoke", "Access revoked"
        API = "api", "API change"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    history_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"], name="audit_object_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} {self.action} {self.object_repr}"


class RunVersions(models.Model):
    """The versions (historical record ids) of the configuration a route run used, kept when it started.

    ``versions``: ``{"connections.route": id, "connections.incoming": id, "connections.outgoing": id,
    "connections.transformer": {"<pk>": id, ...}}``.
    """

    route_run = models.OneToOneField("connections.RouteRun", on_delete=models.CASCADE, related_name="versions")
    versions = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"versions of route run {self.route_run_id}"

    def history_id(self, label: str, pk: Any = None) -> int | None:
        value = self.versions.get(label)
        if isinstance(value, dict):
            value = value.get(str(pk))
        return int(value) if value else None
