"""Exact Online's own tables: who a client's grant acts as and its divisions, the quota, the error budget, and
the changes learnt from webhook events and reconciliation reads.

The platform's ``HttpClient``/``OAuthGrant`` know nothing of Exact; the per-client rows hang off the client and
go with it (``on_delete=CASCADE``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

__all__ = ["ErrorBudget", "ExactAccess", "ExactChange", "QuotaState", "access_of"]


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


class ExactAccess(models.Model):
    """What a client's grant reaches in Exact Online: the Exact user and the divisions, and the chosen default."""

    client = models.OneToOneField("clients.HttpClient", on_delete=models.CASCADE, related_name="exact_access")
    exact_user_id = models.CharField(max_length=64, blank=True, default="")
    exact_user_name = models.CharField(max_length=200, blank=True, default="")
    exact_user_email = models.CharField(max_length=254, blank=True, default="")
    current_division = models.IntegerField(null=True, blank=True)
    default_division = models.IntegerField(null=True, blank=True)
    divisions = models.JSONField(default=list, blank=True, help_text='[{"code": 123, "description": "..."}]')

    class Meta:
        verbose_name = "Exact Online access"

    def __str__(self) -> str:
        return f"Exact access of {self.client_id}"

    def division_label(self, code: int | None) -> str:
        for row in self.divisions or []:
            if row.get("code") == code:
                return f"{code} · {row.get('description') or ''}".strip(" ·")
        return str(code) if code is not None else "—"

    @property
    def current_division_label(self) -> str:
        return self.division_label(self.current_division)

    @property
    def division(self) -> int | None:
        """The division reads and writes default to: the chosen one, else the grant's current one."""
        return self.default_division or self.current_division

    def division_codes(self) -> list[int]:
        return [int(row["code"] if isinstance(row, dict) else row) for row in self.divisions or []]


def access_of(client: Any) -> ExactAccess | None:
    """The client's ``ExactAccess`` row, or None before the first grant (or for an unsaved client)."""
    if client is None or getattr(client, "pk", None) is None:
        return None
    try:
        return client.exact_access
    except ExactAccess.DoesNotExist:
        return None


class QuotaState(models.Model):
    """What Exact's ``X-RateLimit-*`` headers last said for one (client, division); division 0 = none."""

    client = models.ForeignKey("clients.HttpClient", on_delete=models.CASCADE, related_name="quota_states")
    division = models.IntegerField(default=0)
    daily_limit = models.IntegerField(null=True, blank=True)
    daily_remaining = models.IntegerField(null=True, blank=True)
    daily_reset = models.DateTimeField(null=True, blank=True)
    minutely_limit = models.IntegerField(null=True, blank=True)
    minutely_remaining = models.IntegerField(null=True, blank=True)
    minutely_reset = models.DateTimeField(null=True, blank=True)
    parked_until = models.DateTimeField(null=True, blank=True)
    throttled_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    # The limiter's reservations (``exact_online.quota.reserve``) when they are kept in the database.
    limiter = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "division"], name="quota_per_client_division")]

    def __str__(self) -> str:
        return f"quota {self.client_id}/{self.division}"

    @property
    def daily_used_fraction(self) -> float | None:
        if not self.daily_limit or self.daily_remaining is None:
            return None
        return max(0.0, min(1.0, 1 - self.daily_remaining / self.daily_limit))

    @property
    def daily_used_percent(self) -> int | None:
        fraction = self.daily_used_fraction
        return None if fraction is None else round(fraction * 100)

    def is_parked(self, at: datetime | None = None) -> bool:
        return bool(self.parked_until and self.parked_until > (at or timezone.now()))


class ErrorBudget(models.Model):
    """Client errors per (client, division, endpoint) in the current hour window: the error-budget circuit.

    Exact blocks an API key after 10 errors per endpoint and division in an hour; the connector stops
    sending to an endpoint well before that and records here until when (``open_until``). Division 0 = none.
    """

    client = models.ForeignKey("clients.HttpClient", on_delete=models.CASCADE, related_name="error_budgets")
    division = models.IntegerField(default=0)
    endpoint = models.CharField(max_length=200)
    window_start = models.DateTimeField(null=True, blank=True)
    errors = models.PositiveIntegerField(default=0, help_text="Counted errors in the window starting at window_start.")
    consecutive = models.PositiveIntegerField(default=0, help_text="Counted errors since the last success.")
    open_until = models.DateTimeField(null=True, blank=True)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "division", "endpoint"], name="error_budget_per_endpoint"),
        ]

    def __str__(self) -> str:
        return f"error budget {self.client_id}/{self.division}/{self.endpoint}"
