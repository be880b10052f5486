"""Storages: named key → JSON stores with an optional time-to-live, used by transformer steps."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

__all__ = ["Storage", "StorageEntry"]


class Storage(models.Model):
    """A named store that transformer steps read and write (Storage get/save, Filter previously stored)."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_.-]+$", "Use letters, digits, dots, dashes and underscores.")],
        help_text="Steps refer to the storage by this name.",
    )
    description = models.TextField(blank=True)
    ttl_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Entries expire after this many seconds; empty keeps them until deleted."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def expiry_from_now(self, ttl: int | None = None) -> datetime | None:
        seconds = ttl or self.ttl_seconds
        return timezone.now() + timedelta(seconds=seconds) if seconds else None

    def purge_expired(self) -> int:
        deleted, _ = self.entries.filter(expires_at__lte=timezone.now()).delete()
        return deleted


class StorageEntryQuerySet(models.QuerySet["StorageEntry"]):
    def live(self) -> StorageEntryQuerySet:
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()))

    def search(self, text: str) -> StorageEntryQuerySet:
        text = text.strip()
        return self.filter(key__icontains=text) if text else self


class StorageEntry(models.Model):
    """One key in a storage: a JSON value and the content hash "only what changed" compares."""

    storage = models.ForeignKey(Storage, on_delete=models.CASCADE, related_name="entries")
    key = models.CharField(max_length=255)
    value = models.JSONField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StorageEntryQuerySet.as_manager()

    class Meta:
        ordering = ("key",)
        constraints = [models.UniqueConstraint(fields=("storage", "key"), name="storage_entry_unique_key")]
        indexes = [models.Index(fields=("storage", "updated_at")), models.Index(fields=("expires_at",))]
        verbose_name_plural = "storage entries"

    def __str__(self) -> str:
        return f"{self.storage.name}[{self.key}]"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
