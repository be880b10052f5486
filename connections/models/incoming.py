"""Incoming configurations (what to read, from where) and their incremental cursors, one per division."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from lib.crypto import EncryptedTextField, SecretsMixin

from ..transformers.dates import exact_ms, wall_clock

__all__ = ["Incoming", "IncomingCursor"]


class Incoming(SecretsMixin, models.Model):
    """Reads entities out of an outside system through a registered subscriber (``connections.subscribers``).

    The fields every subscriber shares are columns (request parameters, pagination, client, transformer);
    what varies by subscriber is ``config``, opaque to the platform and validated by the subscriber's typed
    config; the subscriber's secret fields are kept apart in ``secrets``, encrypted.
    """

    name = models.CharField(max_length=200, unique=True)
    subscriber = models.CharField(max_length=50, help_text="The kind of subscriber that reads the data.")
    config = models.JSONField(default=dict, blank=True)
    secrets = EncryptedTextField(blank=True, default="", help_text="The subscriber's secret settings, encrypted.")
    path = models.JSONField(default=dict, blank=True, help_text="Path parameters.")
    query = models.JSONField(default=dict, blank=True, help_text="Query parameters.")
    pagination = models.BooleanField(default=True, help_text="Follow the next-page links.")
    page_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Stop after this many pages per division.")
    incremental = models.BooleanField(default=False, help_text="Read only what changed since the last run.")
    task_label = models.CharField(
        max_length=200, blank=True,
        help_text="How its tasks are named, from the entity: e.g. &{Code} – &{Name}. Empty: the identifier.")
    task_key = models.CharField(
        max_length=200, blank=True,
        help_text="What its tasks are found by on the Tasks page, e.g. &{Code}. Empty: the identifier.")
    http_client = models.ForeignKey(
        "clients.HttpClient", null=True, blank=True, on_delete=models.PROTECT, related_name="incomings",
        verbose_name="HTTP Client",
    )
    transformer = models.ForeignKey(
        "connections.Transformer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Applied to {path, query, cursor} before each request.",
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("connections:incoming_detail", args=[self.pk])

    @property
    def subscriber_class(self) -> Any:
        """The registered subscriber class, or None when its connector is not installed."""
        from connections.subscribers import SUBSCRIBERS

        return SUBSCRIBERS.find(self.subscriber)

    @property
    def subscriber_label(self) -> str:
        cls = self.subscriber_class
        return cls.label if cls else self.subscriber

    @property
    def config_summary(self) -> list[tuple[str, str]]:
        cls = self.subscriber_class
        return cls.summary(self) if cls else []

    def task_namer(self) -> Any:
        """Names and search keys for the tasks this Incoming's runs write."""
        from ..task_names import TaskNamer

        return TaskNamer(self.task_label, self.task_key)

    def last_run(self) -> Any:
        return self.runs.order_by("-created_at", "-pk").first()

    def active_run(self) -> Any:
        return self.runs.active().first()


class IncomingCursor(models.Model):
    """Where the next incremental read of one division starts.

    ``kind`` says how the subscriber reads ``value``: Exact Online's ``timestamp`` (sync endpoints:
    ``Timestamp gt N``) or ``modified`` (others: ``Modified ge T`` with the keys already read at exactly ``T``
    kept in ``seen_keys``, so that rows sharing the boundary timestamp are neither lost nor read twice), or
    ``max`` (the highest value of a field seen so far, sent as a query value). A user can reset (delete) or
    rewind (edit ``value``) it.
    """

    class Kind(models.TextChoices):
        TIMESTAMP = "timestamp", "Timestamp"
        MODIFIED = "modified", "Modified"
        MAX = "max", "Highest value"

    incoming = models.ForeignKey(Incoming, on_delete=models.CASCADE, related_name="cursors")
    division = models.IntegerField(default=0, help_text="0 when the subscriber has no divisions.")
    endpoint = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=200)
    seen_keys = models.JSONField(default=list, blank=True)
    run = models.ForeignKey("connections.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["division"]
        constraints = [models.UniqueConstraint(fields=["incoming", "division"], name="one_cursor_per_division")]

    def __str__(self) -> str:
        return f"{self.incoming} / {self.division}: {self.kind} {self.value}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "seen_keys": list(self.seen_keys or []),
                "endpoint": self.endpoint}

    @staticmethod
    def modified_value(text: str) -> str | None:
        """A Modified cursor's stored value for a typed date and time; None when it is not one.

        The value is ``/Date(ms)/`` milliseconds, the source's wall clock: a time without an offset (or a
        pasted ``/Date(ms)/``) is taken as that wall clock; one with an offset (or ``Z``) is converted to it,
        in ``DASH_TIME_ZONE``.
        """
        ms = exact_ms(text, settings.TIME_ZONE)
        return None if ms is None else str(ms)

    @property
    def wall_clock(self) -> str:
        """A Modified cursor as the wall-clock time it means ("2024-10-27 02:30:00"); empty for other kinds."""
        if self.kind != self.Kind.MODIFIED or not self.value.lstrip("-").isdigit():
            return ""
        moment = wall_clock(int(self.value))
        return moment.isoformat(sep=" ", timespec="milliseconds" if moment.microsecond else "seconds")
