"""Runs of an Incoming and the run's log lines; the Tasks they create (one per entity read) are in ``tasks.py``.

Runs and tasks are state machines whose transitions are methods: ``Run.start()``/``reclaim()``/``finish()``;
``Task.objects.claim()`` and ``Task.finish()``/``fail()``/``retry_later()``/``skip()``/``requeue()``/
``release()``. Each is one filtered UPDATE from the statuses it may leave and reports whether it moved
the row, so two workers (or a worker and a click) never both win. The status groups are defined once,
here. Tasks grow without bound: they are written with ``bulk_create`` and indexed on what pages filter by.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

__all__ = ["Run", "RunLogEntry", "RunStatus", "TriggerSource"]


class TriggerSource(models.TextChoices):
    """What started a run (of an Incoming or of a Route)."""

    MANUAL = "manual", "Manual"
    SCHEDULED = "scheduled", "Scheduled"
    WEBHOOK = "webhook", "Webhook"


class RunStatus(models.TextChoices):
    """The one set of states of a run, whether of an Incoming (``Run``) or of a route (``RouteRun``)::

        Run:       Queued --start--> Reading --finish--> Succeeded | Failed | Cancelled
        RouteRun:                    Reading --finish_reading--> Publishing --finish_if_done--> Succeeded | Failed
    """

    QUEUED = "queued", "Queued"
    READING = "reading", "Reading"
    PUBLISHING = "publishing", "Publishing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RunQuerySet(models.QuerySet["Run"]):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=Run.ACTIVE)

    def stale(self, *, older_than: timedelta) -> RunQuerySet:
        """Running runs whose worker stopped reporting (killed, lost): candidates for a resume."""
        return self.filter(status=Run.Status.READING, heartbeat_at__lt=timezone.now() - older_than)


class Run(models.Model):
    """One read of an Incoming: it streams pages from the subscriber and turns every entity into a Task.

    ``checkpoint`` holds, per division, the last followed ``__next`` URL and page number, committed with
    every page, so that a run that failed or whose worker died is resumed at the next page by a new run
    (``resume()``), never re-reading what is already stored. At most one queued or running run exists per
    Incoming (a partial unique constraint): a "Run now" click racing the schedule cannot start a second.
    """

    Status = RunStatus  # it never publishes: Queued, Reading, then Succeeded, Failed or Cancelled

    ACTIVE = (Status.QUEUED, Status.READING)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    RESUMABLE = (Status.FAILED, Status.CANCELLED)

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
    # Why a queued run waits and until when (``connections.waits``): it resumes from its checkpoint then.
    wait_reason = models.CharField(max_length=300, blank=True)
    waiting_until = models.DateTimeField(null=True, blank=True)
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
                fields=["incoming"], condition=models.Q(status__in=["queued", "reading"]),
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
        return self.status in Run.ACTIVE

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
        return self.status in Run.RESUMABLE and bool(self.checkpoint)

    def start(self) -> bool:
        """Claim a queued run for this worker; False when someone else already did (or it was cancelled)."""
        now = timezone.now()
        claimed = Run.objects.filter(pk=self.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.READING, started_at=Coalesce("started_at", Value(now)), heartbeat_at=now,
            wait_reason="", waiting_until=None,
        )
        if claimed == 1:
            self.refresh_from_db(fields=["status", "started_at", "heartbeat_at", "wait_reason", "waiting_until"])
        return claimed == 1

    def wait(self, until: datetime, reason: str) -> bool:
        """Reading -> Queued until ``until`` (``connections.waits``): the read goes on from its checkpoint then,
        on whichever worker is free; this one takes other work at once."""
        now = timezone.now()
        moved = Run.objects.filter(pk=self.pk, status=Run.Status.READING).update(
            status=Run.Status.QUEUED, wait_reason=reason[:300], waiting_until=until, heartbeat_at=now)
        if moved == 1:
            self.status, self.wait_reason, self.waiting_until, self.heartbeat_at = Run.Status.QUEUED, reason, until, now
        return moved == 1

    def reclaim(self, *, stale_after: timedelta) -> bool:
        """Take over a running run whose worker stopped reporting (killed; the broker redelivered its task).

        Atomic like ``start()``: of two workers that both see the stale heartbeat, one wins.
        """
        now = timezone.now()
        claimed = Run.objects.filter(pk=self.pk, status=Run.Status.READING, heartbeat_at=self.heartbeat_at,
                                     heartbeat_at__lt=now - stale_after).update(heartbeat_at=now)
        if claimed == 1:
            self.refresh_from_db()
        return claimed == 1

    def finish(self, status: str, error: str | None = None) -> bool:
        """Close the run (terminal status) once; False when it was closed already."""
        if status not in Run.TERMINAL:
            raise ValueError(f"{status!r} is not a terminal status")
        now = timezone.now()
        updated = Run.objects.filter(pk=self.pk, status__in=Run.ACTIVE).update(
            status=status, finished_at=now, error=error or ""
        )
        if updated:
            self.status, self.finished_at, self.error = status, now, error or ""
        return updated == 1

    def save_checkpoint(self) -> None:
        Run.objects.filter(pk=self.pk).update(checkpoint=self.checkpoint, summary=self.summary,
                                              heartbeat_at=timezone.now())

    def resume(self, *, user: Any = None) -> Run:
        """A new queued run that continues this one's checkpoint (the next page of each unfinished division)."""
        if self.status == Run.Status.READING:
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


class RunLogEntry(models.Model):
    """One log line of a run, written by ``connections.flow.read.RunLogHandler`` from the reader's logger."""

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
