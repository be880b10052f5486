"""Alert channels (where a message goes), rules (what to watch), alerts (one incident each, open until it
clears) and the record of every notification sent; maintenance windows (when nothing starts and nothing alerts).

Rules are evaluated by beat on the workers (``alerts.engine.evaluate``), never in a web request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from lib.crypto import EncryptedTextField, SecretsMixin

__all__ = ["Alert", "Channel", "MaintenanceWindow", "Notification", "Rule"]


class Channel(SecretsMixin, models.Model):
    """Where alert messages go: e-mail addresses, or an incoming-webhook URL of Slack, Teams or any JSON endpoint.

    The webhook URL carries its token in the path, so it is a secret (``secrets`` JSON ``{"url": ...}``,
    encrypted, never rendered back)."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        SLACK = "slack", "Slack (incoming webhook)"
        TEAMS = "teams", "Microsoft Teams (workflow webhook)"
        WEBHOOK = "webhook", "Webhook (generic JSON)"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EMAIL)
    enabled = models.BooleanField(default=True)
    recipients = models.CharField(max_length=1000, blank=True, default="",
                                  help_text="E-mail addresses, separated by commas.")
    secrets = EncryptedTextField(blank=True, default="", help_text="JSON of the webhook URL, encrypted.")
    daily_digest = models.BooleanField(default=False, help_text="Also send a summary of the day's alerts each morning.")
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_webhook(self) -> bool:
        return self.kind != self.Kind.EMAIL

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.replace(";", ",").split(",") if r.strip()]

    @property
    def is_broken(self) -> bool:
        """The last message failed (and nothing went through since)."""
        return bool(self.last_error_at and (self.last_ok_at is None or self.last_error_at > self.last_ok_at))


class Rule(models.Model):
    """What to watch, for one route or for everything (no route), and whom to tell.

    ``threshold`` and ``percent`` mean what ``THRESHOLDS`` says for the rule's kind."""

    class Kind(models.TextChoices):
        RUN_FAILED = "run_failed", "A run failed"
        TASKS_FAILED = "tasks_failed", "Failed tasks in a run above N or P%"
        NO_SUCCESS = "no_success", "A route has not succeeded for H hours"
        CLIENT_RECONNECT = "client_reconnect", "An HTTP client needs reconnecting (or its refresh token idles)"
        QUOTA = "quota", "Daily quota of a division above P%"
        CIRCUIT_OPEN = "circuit_open", "A circuit opened (error budget)"
        RUN_STALLED = "run_stalled", "A run stalled (no progress for M minutes)"
        NO_HEARTBEAT = "no_heartbeat", "No worker heartbeat for M minutes"
        WEBHOOK_FAILING = "webhook_failing", "Webhook deliveries failing (N in the last hour)"

    # kind -> (meaning of threshold, default threshold, meaning of percent, default percent)
    THRESHOLDS: dict[str, tuple[str, int | None, str, int | None]] = {
        "run_failed": ("", None, "", None),
        "tasks_failed": ("failed tasks in the run (N)", 1, "or this share of its tasks failed (P%)", None),
        "no_success": ("hours without a successful run (H)", 24, "", None),
        "client_reconnect": ("days the refresh token was not used", 25, "", None),
        "quota": ("", None, "percent of the daily quota used", 80),
        "circuit_open": ("", None, "", None),
        "run_stalled": ("minutes without progress (M)", 15, "", None),
        "no_heartbeat": ("minutes since a worker's last heartbeat", 3, "", None),
        "webhook_failing": ("failed deliveries in the last hour (N)", 1, "", None),
    }
    ROUTE_KINDS = frozenset({"run_failed", "tasks_failed", "no_success", "run_stalled"})

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    route = models.ForeignKey("connections.Route", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="alert_rules", help_text="Only this route; empty: every route.")
    threshold = models.PositiveIntegerField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    repeat_minutes = models.PositiveIntegerField(
        default=60, help_text="While the alert lasts, tell again at most this often (0: only once).")
    notify_resolved = models.BooleanField(default=True, help_text="Send a message when it clears.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def limit(self) -> int | None:
        """The threshold, or the kind's default when none was set."""
        return self.threshold if self.threshold is not None else self.THRESHOLDS[self.kind][1]

    def limit_percent(self) -> int | None:
        return self.percent if self.percent is not None else self.THRESHOLDS[self.kind][3]

    @property
    def condition(self) -> str:
        """The rule in words, with its numbers: "Failed tasks in a run above N or P% (N=3, P=20%)"."""
        label, _, plabel, _ = self.THRESHOLDS[self.kind]
        parts = [f"{label}: {self.limit()}"] if label else []
        if plabel and self.limit_percent() is not None:
            parts.append(f"{plabel}: {self.limit_percent()}%")
        scope = f"route {self.route}" if self.route_id else "all"
        return f"{self.get_kind_display()}" + (f" ({'; '.join(parts)})" if parts else "") + f" · {scope}"


class AlertQuerySet(models.QuerySet["Alert"]):
    def open(self) -> AlertQuerySet:
        return self.filter(status=Alert.Status.OPEN)


class Alert(models.Model):
    """One incident of a rule for one thing (``key``: a route, a client's division...): open while it lasts.

    It is told once when it opens, again at most every ``rule.repeat_minutes`` while open, and once more
    when it resolves. At most one open alert per rule and key (a partial unique constraint)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="alerts")
    key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    subject = models.CharField(max_length=300)
    detail = models.TextField(blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")
    scope = models.JSONField(default=dict, blank=True,
                             help_text='What a maintenance window may cover: {"routes": [..], "clients": [..]}.')
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notified_count = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["status", "opened_at"], name="alert_status_opened")]
        constraints = [models.UniqueConstraint(fields=["rule", "key"], condition=models.Q(status="open"),
                                               name="one_open_alert_per_rule_key")]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def duration(self) -> timedelta:
        return (self.resolved_at or timezone.now()) - self.opened_at


class Notification(models.Model):
    """One message sent (or tried) to one channel: what happened is recorded, a broken channel blocks nothing."""

    class Event(models.TextChoices):
        FIRED = "fired", "Fired"
        REPEAT = "repeat", "Still open"
        RESOLVED = "resolved", "Resolved"
        TEST = "test", "Test"
        DIGEST = "digest", "Daily digest"

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="notifications")
    channel_name = models.CharField(max_length=200, blank=True, default="")
    event = models.CharField(max_length=10, choices=Event.choices)
    ok = models.BooleanField(default=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.channel_name}"


class MaintenanceWindow(models.Model):
    """A time when a route, or every route using an HTTP client, rests: scheduled runs do not start, queued
    tasks wait until it ends, and no alert fires for them. One-off, or repeated daily or weekly (same local
    time as ``starts_at``, in ``TIME_ZONE``)."""

    class Repeat(models.TextChoices):
        NONE = "none", "Once"
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"

    route = models.ForeignKey("connections.Route", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="maintenance_windows")
    http_client = models.ForeignKey("clients.HttpClient", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    repeat = models.CharField(max_length=10, choices=Repeat.choices, default=Repeat.NONE)
    reason = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(route__isnull=False) | models.Q(http_client__isnull=False),
                                   name="maintenance_window_has_target"),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="maintenance_window_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"Maintenance of {self.target} {self.when}"

    def get_absolute_url(self) -> str:
        return reverse("alerts:maintenance_list")

    @property
    def target(self) -> Any:
        return self.route if self.route_id else self.http_client

    @property
    def when(self) -> str:
        tz = ZoneInfo(settings.TIME_ZONE)
        start, end = self.starts_at.astimezone(tz), self.ends_at.astimezone(tz)
        if self.repeat == self.Repeat.DAILY:
            return f"every day {start:%H:%M}–{end:%H:%M}"
        if self.repeat == self.Repeat.WEEKLY:
            return f"every {start:%A} {start:%H:%M}–{end:%A} {end:%H:%M}"
        return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"

    def active_until(self, at: datetime | None = None) -> datetime | None:
        """When the occurrence that covers ``at`` ends, or None when ``at`` is outside every occurrence."""
        at = at or timezone.now()
        if at < self.starts_at:
            return None
        if self.repeat == self.Repeat.NONE:
            return self.ends_at if at < self.ends_at else None
        period_days = 1 if self.repeat == self.Repeat.DAILY else 7
        tz = ZoneInfo(settings.TIME_ZONE)
        first = self.starts_at.astimezone(tz)
        length = self.ends_at - self.starts_at
        local = at.astimezone(tz)
        # The occurrences that may cover ``at``: started on one of the last period's days, same wall-clock time.
        for back in range(period_days + int(length.days) + 1):
            day = local.date() - timedelta(days=back)
            if (day - first.date()).days % period_days:
                continue
            start = datetime.combine(day, first.timetz().replace(tzinfo=None), tzinfo=tz)
            if start < first:
                continue
            if start <= at < start + length:
                return start + length
        return None
