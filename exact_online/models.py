"""Exact Online's own tables: the changes learnt from webhook events and reconciliation reads."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["ExactChange"]


class ExactChange(models.Model):
    """One change of one Exact record (division, topic, key), and how it reached the routes.

    A webhook event becomes a Pending change due a few seconds later; further events for the same key in
    that window only bump ``events`` and push ``due_at`` (a burst costs one fetch). The fetch records
    ``modified_ms`` (the version delivered), so that a reconciliation read skips that version and a late
    event for it is not published twice. Reconciliation reads record the changes only they found.
    """

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        RECONCILIATION = "reconciliation", "Reconciliation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FETCHING = "fetching", "Fetching"
        DONE = "done", "Delivered"
        SKIPPED = "skipped", "Already delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey("webhooks.Webhook", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="exact_changes")
    incoming = models.ForeignKey("connections.Incoming", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="exact_changes")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    division = models.IntegerField()
    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    action = models.CharField(max_length=20, default="Update")
    events = models.PositiveIntegerField(default=1)
    first_event_at = models.DateTimeField(default=timezone.now)
    last_event_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    modified_ms = models.BigIntegerField(null=True, blank=True)
    tasks_created = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-last_event_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="exactchange_status_due"),
            models.Index(fields=["incoming", "key"], name="exactchange_incoming_key"),
            models.Index(fields=["webhook", "status", "key"], name="exactchange_hook_status_key"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "division", "topic", "key"],
                                    condition=models.Q(status="pending"), name="one_pending_change_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key} ({self.division}) {self.action}"
