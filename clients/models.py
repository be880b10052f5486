"""HTTP clients (one app registration at an API), their OAuth grant and logs.

The platform stores a client's ``kind`` plus validated JSON config; what a kind means lives in the
client-type registry (``clients.registry``), filled by the connector apps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from lib.crypto import EncryptedTextField, SecretsMixin
from lib.naming import free_key
from lib.relations import Dependent, dependents_of

if TYPE_CHECKING:
    from .registry import CircuitInfo, ClientType, QuotaInfo

__all__ = ["ApiCallCount", "AuthEvent", "HttpClient", "OAuthGrant", "RequestLog"]

Info = TypeVar("Info")  # what a client type says per client: a quota, an open circuit, who it is connected as


class HttpClientQuerySet(models.QuerySet["HttpClient"]):
    def usable(self) -> HttpClientQuerySet:
        """Clients that may talk to their API now (granted, not waiting for a reconnect)."""
        return self.filter(status=HttpClient.Status.GRANTED)


class HttpClient(SecretsMixin, models.Model):
    """One app registration at an API (what it stores is the client type's), used by connections.

    ``config`` is the type's validated plain config; ``secrets`` the JSON of its secret fields, encrypted."""

    class Status(models.TextChoices):
        NOT_GRANTED = "not_granted", "Not granted"
        GRANTED = "granted", "Access granted"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(max_length=200)
    key = models.SlugField(max_length=100, unique=True, editable=False,
                           help_text="Stable key that exports and imports refer to it by (from the first name).")
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.key:
            self.key = free_key(HttpClient.objects.exclude(pk=self.pk), self.name)
        super().save(*args, **kwargs)

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
    def client_type(self) -> ClientType | None:
        """The registered type of this client, or None when its connector is not installed."""
        from .registry import CLIENT_TYPES

        cls = CLIENT_TYPES.find(self.kind)
        return cls() if cls is not None else None

    @property
    def type_label(self) -> str:
        """The client type's name for lists (the kind itself when its connector is not installed)."""
        from .registry import CLIENT_TYPES

        cls = CLIENT_TYPES.find(self.kind)
        return cls.label if cls is not None else self.kind

    @property
    def connected_as(self) -> str:
        ctype = self.client_type
        return ctype.connected_as(self) if ctype is not None else ""

    @staticmethod
    def connected_as_by_client(clients: Iterable[HttpClient]) -> dict[int, str]:
        """``connected_as`` of each of ``clients`` by id, each client type asked once (the client list)."""
        return _per_client_type(clients, lambda ctype, group: ctype.connected_as_for(group), str)

    @property
    def default_division(self) -> int | None:
        ctype = self.client_type
        return ctype.default_division(self) if ctype is not None else None

    def quotas(self) -> list[QuotaInfo]:
        ctype = self.client_type
        return ctype.quotas(self) if ctype is not None else []

    @staticmethod
    def quotas_by_client(clients: Iterable[HttpClient]) -> dict[int, list[QuotaInfo]]:
        """``quotas()`` of each of ``clients`` by id, each client type asked once for all of its clients: a page
        listing clients asks as often with fifty as with one."""
        return _per_client_type(clients, lambda ctype, group: ctype.quotas_for(group), list)

    def open_circuits(self) -> list[CircuitInfo]:
        """What the client's type holds back now (e.g. endpoints past their error budget)."""
        ctype = self.client_type
        return ctype.open_circuits(self) if ctype is not None else []

    @staticmethod
    def open_circuits_by_client(clients: Iterable[HttpClient]) -> dict[int, list[CircuitInfo]]:
        """``open_circuits()`` of each of ``clients`` by id, like ``quotas_by_client``."""
        return _per_client_type(clients, lambda ctype, group: ctype.open_circuits_for(group), list)

    def quota(self, division: int | None) -> QuotaInfo | None:
        """What the API last said about the allowance of ``division`` (0/None: the client's default)."""
        wanted = int(division or self.default_division or 0)
        return next((q for q in self.quotas() if q.division == wanted), None)

    def mark_needs_reconnect(self, message: str) -> None:
        """The other side refused the grant: stop using it until someone grants access again."""
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

    def revoke_grant(self) -> None:
        """Delete the tokens and mark the client revoked, at once (the *Revoke* button of every type)."""
        self.forget_grant("Access revoked here.")
        HttpClient.objects.filter(pk=self.pk).update(status=self.Status.REVOKED, status_message="Access revoked here.",
                                                     updated_at=timezone.now())
        self.status = self.Status.REVOKED

    def dependents(self) -> list[Dependent]:
        """Objects of other apps that use this client (connections...): its own logs and grant aside, and the
        rows a connector keeps per client (they go with it: ``on_delete=CASCADE``)."""
        owned = {rel.related_model for rel in self._meta.related_objects if rel.on_delete is models.CASCADE}
        return dependents_of(self, ignore={OAuthGrant, AuthEvent, RequestLog, *owned})


class OAuthGrant(models.Model):
    """The client's access at the API: the token pair (encrypted), its timing and who granted it.

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


class ApiCallCount(models.Model):
    """How many requests a client sent per scope (e.g. a division; 0 = none) and hour: every call counts, reads,
    writes, lookups, retries and token calls alike (``clients.usage.count_call``, fed by ``lib.http.Transport``)."""

    client = models.ForeignKey(HttpClient, on_delete=models.CASCADE, related_name="call_counts")
    division = models.IntegerField(default=0)
    hour = models.DateTimeField(help_text="The start of the hour (UTC).")
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "division", "hour"], name="call_count_per_hour")]
        indexes = [models.Index(fields=["hour"], name="call_count_hour")]

    def __str__(self) -> str:
        return f"{self.calls} calls of {self.client_id}/{self.division} at {self.hour:%Y-%m-%d %H}:00"


def _per_client_type(clients: Iterable[HttpClient], ask: Callable[[ClientType, list[HttpClient]], dict[int, Info]],
                     empty: Callable[[], Info]) -> dict[int, Info]:
    """``ask`` each installed client type once, about all of ``clients`` of its kind; ``empty()`` for the others."""
    from .registry import CLIENT_TYPES

    by_kind: dict[str, list[HttpClient]] = defaultdict(list)
    for client in clients:
        by_kind[client.kind].append(client)
    found: dict[int, Info] = {client.pk: empty() for group in by_kind.values() for client in group}
    for kind, group in by_kind.items():
        cls = CLIENT_TYPES.find(kind)
        if cls is not None:
            found.update(ask(cls(), group))
    return found
