"""Inbound webhooks: a hook (its URL, parser and validators), the deliveries it stored and what it refused.

A delivery is stored raw, before any parsing, and answered 202; the workers turn it into tasks later
(``webhooks.processing``). Status changes of a delivery go through the filtered updates of that module.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from lib.crypto import EncryptedTextField, SecretsMixin

__all__ = ["Delivery", "Rejection", "Webhook", "new_token"]

REDACTED = "••••••"
# Keys whose values never appear on a page, whatever system sent them.
SECRET_KEY_PATTERN = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|signature|hash_?code)",
                                re.IGNORECASE)


def new_token() -> str:
    """The unguessable part of a hook's URL (192 random bits)."""
    return secrets.token_urlsafe(24)


class Webhook(SecretsMixin, models.Model):
    """One inbound URL, ``/hooks/<token>/``: who may post (validators), how to read it (parser), what it feeds.

    ``kind`` says who handles deliveries: ``generic`` (parse the body into items; each item becomes a task of
    every route fed by this hook) or a connector's kind registered in ``webhooks.kinds`` (Exact Online's
    signed events). ``validation`` holds the non-secret validator settings, ``secrets`` (encrypted) the
    shared secret, HMAC key and Basic-auth password.
    """

    class Parser(models.TextChoices):
        JSON = "json", "JSON"
        CSV = "csv", "CSV"
        XML = "xml", "XML"

    name = models.CharField(max_length=200, unique=True)
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    kind = models.CharField(max_length=50, default="generic")
    enabled = models.BooleanField(default=True)
    parser = models.CharField(max_length=10, choices=Parser.choices, default=Parser.JSON)
    parser_config = models.JSONField(default=dict, blank=True)
    validation = models.JSONField(default=dict, blank=True)
    secrets = EncryptedTextField(blank=True, default="", help_text="JSON of the secret settings, encrypted.")
    config = models.JSONField(default=dict, blank=True, help_text="Settings of a connector's kind.")
    dedup_header = models.CharField(max_length=100, blank=True, default="",
                                    help_text="Header carrying the sender's delivery id, e.g. X-Delivery-Id.")
    dedup_window_seconds = models.PositiveIntegerField(default=3600)
    identifier_path = models.CharField(max_length=200, blank=True, default="",
                                       help_text="JMESPath of an item's key, stored on its task (e.g. id).")
    sample = models.TextField(blank=True, default="", help_text="The body “Send test” posts.")
    drain_queued = models.BooleanField(default=False, editable=False,
                                       help_text="A worker job to process this hook's deliveries is queued.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("webhooks:detail", args=[self.pk])

    @property
    def hook_path(self) -> str:
        return reverse("hook", args=[self.token])

    @property
    def url(self) -> str:
        return settings.SITE_URL.rstrip("/") + self.hook_path

    # --- secrets (never rendered) ---------------------------------------------------------------
    def secret_values(self) -> list[str]:
        return [v for v in self.get_secrets().values() if v]

    # --- what it feeds --------------------------------------------------------------------------
    def fed_routes(self) -> models.QuerySet[Any]:
        return self.routes.filter(enabled=True).select_related("outgoing", "incoming")

    def kind_label(self) -> str:
        from .kinds import get_kind

        handler = get_kind(self.kind)
        return handler.label if handler else self.kind


class Delivery(models.Model):
    """One request a hook accepted: the raw body and headers as received, then what processing made of it.

    ``dedup_key`` is the sender's delivery id (``Webhook.dedup_header``) or the body's SHA-256: a second
    delivery with the same key inside the hook's window is kept, marked Duplicate, and creates no tasks.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"
        DUPLICATE = "duplicate", "Duplicate"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=200, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True, help_text="As received, credentials redacted.")
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    size = models.PositiveIntegerField(default=0)
    body_hash = models.CharField(max_length=64, blank=True, default="")
    dedup_key = models.CharField(max_length=200, blank=True, default="")
    is_test = models.BooleanField(default=False)
    items = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)  # finished processings (the first, then replays)
    error = models.TextField(blank=True, default="")
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    processing_since = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    route_runs = models.JSONField(default=list, blank=True, help_text="Route runs that hold this delivery's tasks.")
    task_ids = models.JSONField(default=list, blank=True, help_text="The tasks this delivery made.")

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["webhook", "received_at"], name="delivery_hook_received"),
            models.Index(fields=["webhook", "dedup_key"], name="delivery_hook_dedup"),
            models.Index(fields=["status", "received_at"], name="delivery_status_received"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of {self.webhook_id}"

    def get_absolute_url(self) -> str:
        return reverse("webhooks:delivery", args=[self.webhook_id, self.pk])

    @property
    def first_attempt(self) -> bool:
        """Never processed to the end (``attempts`` counts finished processings): checked against duplicates.
        A replay processes again on purpose; a delivery whose worker died before writing wrote nothing."""
        return self.attempts == 0

    @property
    def can_replay(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.PROCESSED, self.Status.DUPLICATE)

    def body_bytes(self) -> bytes:
        return bytes(self.body or b"")

    def body_text(self) -> str:
        return self.body_bytes().decode("utf-8", errors="replace")

    def redacted_body(self) -> str:
        """The body for a page: the hook's secrets and values under secret-looking keys replaced."""
        text = self.body_text()
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            text = json.dumps(_redact(parsed), indent=2, ensure_ascii=False)
        for value in self.webhook.secret_values():
            text = text.replace(value, REDACTED)
        return text

    def older_duplicate(self) -> Delivery | None:
        """An earlier delivery of the same hook with the same key inside the window that was not refused."""
        if not self.dedup_key:
            return None
        since = self.received_at - timedelta(seconds=self.webhook.dedup_window_seconds)
        return (Delivery.objects.filter(webhook_id=self.webhook_id, dedup_key=self.dedup_key, pk__lt=self.pk,
                                        received_at__gte=since)
                .exclude(status__in=(self.Status.FAILED, self.Status.DUPLICATE)).order_by("pk").first())


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEY_PATTERN.search(str(k)) and v not in (None, "") else _redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


class Rejection(models.Model):
    """A counter of refused requests per hook and status (404 unknown, 410 disabled, 401, 413, 415...).

    Refused requests are counted, never stored or processed: a flood of bad signatures costs one UPDATE each.
    """

    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="rejections")
    status = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)
    last_reason = models.CharField(max_length=300, blank=True, default="")
    last_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["status"]
        constraints = [models.UniqueConstraint(fields=["webhook", "status"], name="one_rejection_counter")]

    def __str__(self) -> str:
        return f"{self.status}: {self.count}"

    @classmethod
    def count_one(cls, webhook_id: int | None, status: int, reason: str) -> None:
        now = timezone.now()
        updated = cls.objects.filter(webhook_id=webhook_id, status=status).update(
            count=F("count") + 1, last_reason=reason[:300], last_at=now)
        if updated:
            return
        try:
            with transaction.atomic():
                cls.objects.create(webhook_id=webhook_id, status=status, count=1, last_reason=reason[:300],
                                   last_at=now)
        except IntegrityError:  # a concurrent first refusal created the counter: count on it
            cls.objects.filter(webhook_id=webhook_id, status=status).update(count=F("count") + 1)
