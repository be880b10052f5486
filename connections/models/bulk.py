"""A user's "retry all matching": a job worked through in the background, with its progress."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["TaskBulkRetry"]


class TaskBulkRetry(models.Model):
    """Retry every task that matches a filter of the Tasks page, in chunks, by a worker (``flow/bulk.py``).

    ``last_task`` is where the job got to: a worker that dies mid-way leaves it to be resumed, not restarted.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    filters = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    orphans = models.PositiveIntegerField(default=0)
    last_task = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Retry of matching tasks #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == self.Status.FINISHED else 0
        return min(100, round(100 * self.done / self.total))

    def describe_filters(self) -> str:
        shown: dict[str, Any] = {k: v for k, v in (self.filters or {}).items() if v}
        return ", ".join(f"{k}: {v}" for k, v in shown.items()) or "all route tasks"
