"""Runs of an Incoming, the Tasks they create (one per entity read) and the run's log lines.

A Run's status changes only through ``Run.start()`` (an atomic claim) and ``Run.finish()``; a Task's
through ``Task.set_status()``. Tasks grow without bound: they are written with ``bulk_create`` in
batches and indexed on what the pages filter by.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

__all__ = ["Run", "RunLogEntry", "Task", "TriggerSource"]


class TriggerSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    SCHEDULED = "scheduled", "Scheduled"
    WEBHOOK = "webhook", "Webhook"


class RunQuerySet(models.QuerySet["Run"]):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=Run.Status.ACTIVE)

    def stale(self, *, older_than: timedelta) -> RunQuerySet:
        """Running runs whose worker stopped reporting (killed, lost): candidates for a resume."""
        return self.filter(status=Run.Status.RUNNING, heartbeat_at__lt=timezone.now() - older_than)


class Run(models.Model):
    """One read of an Incoming: it streams pages from the subscriber and turns every entity into a Task.

    ``checkpoint`` holds, per division, the last followed ``__next`` URL and page number, committed with
    every page, so that a run that failed or whose worker died is resumed at the next page by a new run
    (``resume()``), never re-reading what is already stored. At most one queued or running run exists per
    Incoming (a partial unique constraint): a "Run now" click racing the schedule cannot start a second.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    Status.ACTIVE = (Status.QUEUED, Status.RUNNING)  # type: ignore[attr-defined]
    Status.TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)  # type: ignore[attr-defined]
    TriggerSource = TriggerSource

    incoming = models.ForeignKey(
        "connections.Incoming", null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    trigger = models.CharField(max_length=12, choices=TriggerSource.choices, default=TriggerSource.MANUAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    dry_run = models.BooleanField(default=False)
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resumed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    entities_read = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)
    tasks_skipped = models.PositiveIntegerField(default=0)
    tasks_failed = models.PositiveIntegerField(default=0)
    tasks_finished = models.PositiveIntegerField(default=0)

    error = models.TextField(blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Per division: endpoint, calls, records, cursor.")

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="run_status_created"),
            models.Index(fields=["incoming", "created_at"], name="run_incoming_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incoming"], condition=models.Q(status__in=["queued", "running"]),
                name="one_active_run_per_incoming",
            )
        ]

    def __str__(self) -> str:
        return f"Run {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("connections:run_detail", args=[self.pk])

    # -- state ------------------------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.status in Run.Status.ACTIVE  # type: ignore[attr-defined]

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def records_per_call(self) -> float:
        return round(self.entities_read / self.api_calls, 1) if self.api_calls else 0.0

    @property
    def can_resume(self) -> bool:
        return self.status in (Run.Status.FAILED, Run.Status.CANCELLED) and bool(self.checkpoint)

    def start(self) -> bool:
        """Claim a queued run for this worker; False when someone else already did (or it was cancelled)."""
        now = timezone.now()
        claimed = Run.objects.filter(pk=self.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.RUNNING, started_at=now, heartbeat_at=now
        )
        if claimed == 1:
            self.status, self.started_at, self.heartbeat_at = Run.Status.RUNNING, now, now
        return claimed == 1

    def reclaim(self, *, stale_after: timedelta) -> bool:
        """Take over a running run whose worker stopped reporting (killed; the broker redelivered its task).

        Atomic like ``start()``: of two workers that both see the stale heartbeat, one wins.
        """
        now = timezone.now()
        claimed = Run.objects.filter(pk=self.pk, status=Run.Status.RUNNING, heartbeat_at=self.heartbeat_at,
                                     heartbeat_at__lt=now - stale_after).update(heartbeat_at=now)
        if claimed == 1:
            self.refresh_from_db()
        return claimed == 1

    def finish(self, status: str, error: str | None = None) -> None:
        """Close the run (terminal status) once; later calls are ignored."""
        if status not in Run.Status.TERMINAL:  # type: ignore[attr-defined]
            raise ValueError(f"{status!r} is not a terminal status")
        now = timezone.now()
        updated = Run.objects.filter(pk=self.pk, status__in=Run.Status.ACTIVE).update(  # type: ignore[attr-defined]
            status=status, finished_at=now, error=error or ""
        )
        if updated:
            self.status, self.finished_at, self.error = status, now, error or ""

    def add_counts(self, **counts: int) -> None:
        """Increment counters in the database (no lost updates between processes) and on this instance."""
        values = {name: F(name) + n for name, n in counts.items() if n}
        values["heartbeat_at"] = timezone.now()
        Run.objects.filter(pk=self.pk).update(**values)
        for name, n in counts.items():
            setattr(self, name, getattr(self, name) + n)

    def save_checkpoint(self) -> None:
        Run.objects.filter(pk=self.pk).update(checkpoint=self.checkpoint, summary=self.summary,
                                              heartbeat_at=timezone.now())

    def resume(self, *, user: Any = None) -> Run:
        """A new queued run that continues this one's checkpoint (the next page of each unfinished division)."""
        if self.status == Run.Status.RUNNING:
            self.finish(Run.Status.FAILED, self.error or "Worker stopped reporting; resumed by a new run.")
        return Run.objects.create(
            incoming=self.incoming, trigger=TriggerSource.MANUAL, dry_run=self.dry_run, resumed_from=self,
            created_by=user, checkpoint=self.checkpoint, summary=self.summary,
        )

    @classmethod
    def enqueue(cls, incoming: Any, *, trigger: str = TriggerSource.MANUAL, user: Any = None,
                dry_run: bool = False, checkpoint: dict[str, Any] | None = None) -> tuple[Run, bool]:
        """Create a queued run, or return the active one: ``(run, created)``."""
        try:
            with transaction.atomic():
                run = cls.objects.create(incoming=incoming, trigger=trigger, created_by=user, dry_run=dry_run,
                                         checkpoint=checkpoint or {})
            return run, True
        except IntegrityError:
            active = cls.objects.active().filter(incoming=incoming).first()
            if active is None:
                raise
            return active, False

    def log(self, message: str, level: int = logging.INFO) -> None:
        RunLogEntry.objects.create(run=self, level=level, message=message[:4000])


class RunLogEntry(models.Model):
    """One log line of a run, written by ``connections.runner.RunLogHandler`` from the runner's logger."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_entries")
    at = models.DateTimeField(default=timezone.now)
    level = models.PositiveSmallIntegerField(default=logging.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["run", "at"], name="runlog_run_at")]

    def __str__(self) -> str:
        return self.message[:80]

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class Task(models.Model):
    """One entity on its way through the platform: read by a run, then transformed and published.

    The data of each stage is kept (``data`` as read, ``transformed``, the published ``request`` and Exact's
    ``response``), so that a consultant can see what happened to one record. Status changes go through
    ``set_status()`` which also writes the task's log.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        PROCESSING = "processing", "Processing"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        RETRY = "retry", "Retry"

    BULK_BATCH = 500

    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    incoming = models.ForeignKey(
        "connections.Incoming", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    identifier = models.CharField(max_length=255, blank=True, db_index=True)
    division = models.IntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    transformed = models.JSONField(null=True, blank=True)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    external_key = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    log = models.JSONField(default=list, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="task_status_created"),
            models.Index(fields=["run", "status"], name="task_run_status"),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.identifier})"

    @staticmethod
    def log_line(message: str, level: str = "info") -> dict[str, str]:
        return {"at": timezone.now().isoformat(), "level": level, "message": message}

    def add_log(self, message: str, level: str = "info", *, save: bool = True) -> None:
        self.log = [*(self.log or []), self.log_line(message, level)]
        if save:
            self.save(update_fields=["log", "updated_at"])

    def set_status(self, status: str, *, message: str = "", level: str = "info", **fields: Any) -> None:
        """The one place a task changes status: sets it with any extra fields, logs why, saves."""
        self.status = status
        for name, value in fields.items():
            setattr(self, name, value)
        if status == Task.Status.PROCESSING and "processing_since" not in fields:
            self.processing_since = timezone.now()
        if message:
            self.add_log(message, level, save=False)
        self.save(update_fields=["status", "log", "updated_at", *fields.keys(),
                                 *(["processing_since"] if status == Task.Status.PROCESSING else [])])
