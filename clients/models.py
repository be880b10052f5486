"""HTTP clients (one app registration at an API), their OAuth grant, quota state and logs.

The platform stores a client's ``kind`` plus validated JSON config; what a kind means lives in the
client-type registry (``clients.registry``), filled by connector apps such as ``exact_online``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from lib.crypto import EncryptedTextField, SecretsMixin
from lib.relations import Dependent, dependents_of

__all__ = ["AuthEvent", "HttpClient", "OAuthGrant", "QuotaState", "RequestLog"]


class HttpClientQuerySet(models.QuerySet["HttpClient"]):
    def usable(self) -> HttpClientQuerySet:
        """Clients that may talk to their API now (granted, not waiting for a reconnect)."""
        return self.filter(status=HttpClient.Status.GRANTED)


class HttpClient(SecretsMixin, models.Model):
    """One app registration at an API (for Exact Online: region, Client ID/Secret), used by connections."""

    class Status(models.TextChoices):
        NOT_GRANTED = "not_granted", "Not granted"
        GRANTED = "granted", "Access granted"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, db_index=True)
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret settings of the client type.")
    secrets = EncryptedTextField(blank=True, default="", help_text="JSON of the secret settings, encrypted.")
    log_requests = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_GRANTED, db_index=True)
    status_message = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = HttpClientQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("clients:detail", args=[self.pk])

    # --- state --------------------------------------------------------------------------------
    @property
    def needs_reconnect(self) -> bool:
        return self.status == self.Status.NEEDS_RECONNECT

    @property
    def is_granted(self) -> bool:
        return self.status == self.Status.GRANTED

    @property
    def grant_or_none(self) -> OAuthGrant | None:
        try:
            return self.grant
        except OAuthGrant.DoesNotExist:
            return None

    @property
    def division(self) -> int | None:
        """The division chosen on the client page (defaults to the grant's current division)."""
        grant = self.grant_or_none
        return grant.default_division if grant else None

    def mark_needs_reconnect(self, message: str) -> None:
        """Exact refused the grant: stop using it until someone grants access again."""
        HttpClient.objects.filter(pk=self.pk).update(status=self.Status.NEEDS_RECONNECT, status_message=message[:2000],
                                                     updated_at=timezone.now())
        self.status, self.status_message = self.Status.NEEDS_RECONNECT, message

    def forget_grant(self, message: str) -> None:
        """Delete the tokens and mark the client not granted (its secrets or address changed): grant again."""
        with transaction.atomic():
            grant = OAuthGrant.objects.select_for_update().filter(client_id=self.pk).first()
            if grant is not None:
                grant.clear_tokens()
                grant.version += 1
                grant.save(update_fields=["access_token", "refresh_token", "expires_at", "issued_at", "version"])
        self.status, self.status_message = self.Status.NOT_GRANTED, message

    def dependents(self) -> list[Dependent]:
        """Objects of other apps that use this client (connections...); its own logs and grant aside."""
        return dependents_of(self, ignore={OAuthGrant, AuthEvent, RequestLog, QuotaState, ErrorBudget})


class OAuthGrant(models.Model):
    """The client's access at the API: the token pair (encrypted), its timing, who granted it, what it reaches.

    One per client. ``version`` goes up on every refresh; a process that saw version N refreshes only if
    the row still says N once it holds the row lock (single-flight refresh across processes).
    """

    client = models.OneToOneField(HttpClient, on_delete=models.CASCADE, related_name="grant")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    expires_in = models.FloatField(default=0)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_used_at = models.DateTimeField(null=True, blank=True, help_text="When the refresh token was last used.")
    refresh_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    granted_at = models.DateTimeField(null=True, blank=True)
    exact_user_id = models.CharField(max_length=64, blank=True, default="")
    exact_user_name = models.CharField(max_length=200, blank=True, default="")
    exact_user_email = models.CharField(max_length=254, blank=True, default="")
    current_division = models.IntegerField(null=True, blank=True)
    default_division = models.IntegerField(null=True, blank=True)
    divisions = models.JSONField(default=list, blank=True, help_text='[{"code": 123, "description": "..."}]')

    class Meta:
        verbose_name = "OAuth grant"

    def __str__(self) -> str:
        return f"grant of {self.client_id} (v{self.version})"

    @property
    def has_tokens(self) -> bool:
        return bool(self.refresh_token)

    @property
    def seconds_left(self) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - timezone.now()).total_seconds()

    def division_label(self, code: int | None) -> str:
        for row in self.divisions or []:
            if row.get("code") == code:
                return f"{code} · {row.get('description') or ''}".strip(" ·")
        return str(code) if code is not None else "—"

    @property
    def current_division_label(self) -> str:
        return self.division_label(self.current_division)

    def clear_tokens(self) -> None:
        self.access_token = ""
        self.refresh_token = ""
        self.expires_at = None
        self.issued_at = None


class AuthEvent(models.Model):
    """The auth log: grants, refreshes, refusals, revocations (always written, never with secrets)."""

    class Event(models.TextChoices):
        GRANT_STARTED = "grant_started", "Grant started"
        GRANTED = "granted", "Access granted"
        GRANT_DENIED = "grant_denied", "Grant denied"
        GRANT_FAILED = "grant_failed", "Grant failed"
        REFRESHED = "refreshed", "Token refreshed"
        REFRESH_REFUSED = "refresh_refused", "Refresh refused"
        REFRESH_FAILED = "refresh_failed", "Refresh failed"
        RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
        REVOKED = "revoked", "Revoked"
        KEEPALIVE = "keepalive", "Keep-alive refresh"
        TEST_OK = "test_ok", "Connection tested"
        TEST_FAILED = "test_failed", "Connection test failed"

    FAILURES = {"grant_denied", "grant_failed", "refresh_refused", "refresh_failed", "reconnect_needed", "test_failed"}

    client = models.ForeignKey(HttpClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="auth_events")
    client_name = models.CharField(max_length=200, blank=True, default="")
    event = models.CharField(max_length=30, choices=Event.choices)
    message = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["client", "created_at"]), models.Index(fields=["event", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_event_display()} · {self.client_name}"

    @property
    def ok(self) -> bool:
        return self.event not in self.FAILURES

    @classmethod
    def record(cls, client: HttpClient | None, event: str, message: str = "", *, user: Any = None,
               details: dict[str, Any] | None = None) -> AuthEvent:
        if user is not None and not getattr(user, "is_authenticated", False):
            user = None
        return cls.objects.create(client=client, client_name=client.name if client else "", event=event,
                                  message=message[:4000], details=details or {}, user=user)


class RequestLog(models.Model):
    """One HTTP request a client made (when *Log requests* is on), redacted before it is stored."""

    client = models.ForeignKey(HttpClient, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="request_logs")
    kind = models.CharField(max_length=10, default="api")  # api | auth
    method = models.CharField(max_length=10)
    url = models.TextField()
    status = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["client", "created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status}"


class QuotaState(models.Model):
    """What Exact's ``X-RateLimit-*`` headers last said for one (client, division); division 0 = none."""

    client = models.ForeignKey(HttpClient, on_delete=models.CASCADE, related_name="quota_states")
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

    client = models.ForeignKey(HttpClient, on_delete=models.CASCADE, related_name="error_budgets")
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
