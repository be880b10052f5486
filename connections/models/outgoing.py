"""Outgoing: where a route writes (a publisher, an action, an entity, static request parts)."""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from lib.crypto import EncryptedTextField, SecretsMixin

__all__ = ["Outgoing", "SourceIdMap"]


class Outgoing(SecretsMixin, models.Model):
    """A configured write to an outside system through a registered publisher.

    ``path``, ``query`` and ``payload`` are the static request parts; a task's own ``path``,
    ``query`` and ``payload`` keys are merged over them. ``config`` holds publisher-specific
    settings (e.g. the idempotency reference field, the upsert key), validated by the publisher's typed
    config; its secret fields are kept apart in ``secrets``, encrypted.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        PATCH = "patch", "Patch"
        DELETE = "delete", "Delete"
        UPSERT = "upsert", "Upsert"
        GET = "get", "Get"

    name = models.CharField(max_length=200, unique=True)
    publisher = models.CharField(max_length=50)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.CREATE)
    entity = models.CharField(max_length=200, help_text="What the publisher writes, e.g. crm/Accounts or a path.")
    path = models.JSONField(default=dict, blank=True)
    query = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)
    secrets = EncryptedTextField(blank=True, default="", help_text="The publisher's secret settings, encrypted.")
    transformer = models.ForeignKey(
        "connections.Transformer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    http_client = models.ForeignKey("clients.HttpClient", on_delete=models.PROTECT, related_name="outgoings")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A random salt per Outgoing keeps idempotency references unique across outgoings and databases
        # (primary keys repeat after a restore or in a second installation writing to the same Exact).
        if not (self.config or {}).get("reference_salt"):
            self.config = {**(self.config or {}), "reference_salt": secrets.token_hex(4)}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("connections:outgoing_detail", args=[self.pk])

    @property
    def reference_field(self) -> str:
        return str(self.config.get("reference_field") or "")

    @property
    def upsert_key(self) -> str:
        return str(self.config.get("upsert_key") or "")

    def idempotency_reference(self, source_id: str, task_id: int) -> str:
        """A short, deterministic reference for one write (10 characters: fits Exact's short codes).

        Derived from the outgoing and the source identifier (or the task when there is none), so a
        second attempt of the same write carries the same reference and can be found again.
        """
        salt = (self.config or {}).get("reference_salt", "")
        basis = f"{salt}:{self.pk}:{source_id}" if source_id else f"{salt}:{self.pk}:task:{task_id}"
        digest = hashlib.sha256(basis.encode()).digest()
        return "ED" + b32encode(digest).decode()[:8]

    def merged_parts(self, data: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(path, query, payload): the task's own keys merged over the static ones.

        A task whose data has none of the three keys is taken as the payload itself.
        """
        path = dict(self.path or {})
        query = dict(self.query or {})
        payload = dict(self.payload or {})
        if isinstance(data, dict) and any(key in data for key in ("path", "query", "payload")):
            path.update(data.get("path") or {})
            query.update(data.get("query") or {})
            payload.update(data.get("payload") or {})
        elif isinstance(data, dict):
            payload.update(data)
        return path, query, payload


class SourceIdMap(models.Model):
    """Which record on the outgoing side a source record became (source id -> target id)."""

    outgoing = models.ForeignKey(Outgoing, on_delete=models.CASCADE, related_name="id_map")
    source_id = models.CharField(max_length=255)
    target_id = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["outgoing", "source_id"], name="uniq_source_id_per_outgoing")]

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_id}"

    @classmethod
    def remember(cls, outgoing_id: int, source_id: str, target_id: str) -> None:
        cls.objects.update_or_create(outgoing_id=outgoing_id, source_id=source_id, defaults={"target_id": target_id})

    @classmethod
    def lookup_many(cls, outgoing_id: int, source_ids: Iterable[str]) -> dict[str, str]:
        """Source id -> target id for the ``source_ids`` that have one: a batch's map in one query."""
        wanted = sorted({s for s in source_ids if s})
        if not wanted:
            return {}
        return dict(cls.objects.filter(outgoing_id=outgoing_id, source_id__in=wanted)
                    .values_list("source_id", "target_id"))

    @classmethod
    def lookup(cls, outgoing_id: int, source_id: str) -> str | None:
        return cls.objects.filter(outgoing_id=outgoing_id, source_id=source_id).values_list(
            "target_id", flat=True
        ).first()
