"""Tasks: one per entity a run read, each taken through the route's chain and published on its own.

A state machine whose transitions are methods (``Task.objects.claim()``, ``Task.finish()``/``fail()``/
``retry_later()``/``skip()``/``requeue()``/``release()``), each one filtered UPDATE from the statuses it may leave
(see ``runs.py``). Tasks grow without bound: they are written in bulk and indexed on what pages filter by.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.db.models.lookups import Contains
from django.utils import timezone

from .runs import Run

__all__ = ["Task"]


class TaskQuerySet(models.QuerySet["Task"]):
    def due(self, at: datetime | None = None) -> TaskQuerySet:
        """Tasks whose wait (if any) is over."""
        return self.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at or timezone.now()))

    def claimable(self) -> TaskQuerySet:
        return self.filter(status__in=Task.CLAIMABLE).due()

    def claim(self, task_ids: Iterable[int]) -> list[Task]:
        """Claim the claimable, due tasks among ``task_ids`` for this worker: one filtered UPDATE.

        The claim writes a token unique to this call, so the tasks it moved to Processing are told from
        ones another worker claimed at the same moment.
        """
        ids = list(task_ids)
        if not ids:
            return []
        token = uuid.uuid4()
        self.filter(pk__in=ids).claimable().update(
            status=Task.Status.PROCESSING, claim_token=token, processing_since=timezone.now(), queued_at=None,
            attempts=F("attempts") + 1, updated_at=timezone.now())
        return list(Task.objects.filter(pk__in=ids, claim_token=token).order_by("pk"))


class AppendToList(models.Func):
    """``column`` (a JSON list, or NULL) with ``item`` appended, computed by the database: an UPDATE of many rows
    adds the same log line to each without reading their logs."""

    output_field = models.JSONField()

    def __init__(self, column: str, item: Any) -> None:
        super().__init__(F(column), Value(json.dumps(item)))

    def as_sql(self, compiler: Any, connection: Any, function: str | None = None, template: str | None = None,
               arg_joiner: str | None = None, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:
        column, column_params = compiler.compile(self.source_expressions[0])
        item, item_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            sql = f"COALESCE({column}, '[]'::jsonb) || jsonb_build_array(({item})::jsonb)"
        else:  # SQLite keeps JSON as text
            sql = f"json_insert(COALESCE({column}, '[]'), '$[#]', json({item}))"
        return sql, (*column_params, *item_params)


# What "text anywhere" searches on PostgreSQL: the same expression as the trigram index of migration 0010.
TEXT_SEARCH_SQL = ('upper("connections_task"."identifier" || \' \' || "connections_task"."external_key" || \' \' || '
                   '"connections_task"."error" || \' \' || "connections_task"."skip_reason")')


class Task(models.Model):
    """One entity on its way through the platform: read by a run, then transformed and published.

    The data of each stage is kept (``data`` as read, ``transformed``, the published ``request`` and Exact's
    ``response``), so that a consultant can see what happened to one record. Its status changes only
    through the transition methods below (each also writes why into the task's log)::

        New/Retry --claim--> Processing --finish--> Finished
                                        --fail--> Failed
                                        --retry_later--> Retry (at next_attempt_at)
                                        --skip--> Skipped
                                        --release (its worker died)--> Retry
        Failed/Skipped/Retry --requeue (a user)--> Retry;  New/Retry/Failed --skip (a user)--> Skipped
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        PROCESSING = "processing", "Processing"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        RETRY = "retry", "Retry"

    OPEN = (Status.NEW, Status.PROCESSING, Status.RETRY)  # still on its way: its run is not done
    CLAIMABLE = (Status.NEW, Status.RETRY)  # a worker may take it (once it is due)
    DONE = (Status.FINISHED, Status.FAILED, Status.SKIPPED)  # pruned after the retention
    RETRYABLE = (Status.FAILED, Status.SKIPPED, Status.RETRY)  # a user may queue it again
    SKIPPABLE = (Status.NEW, Status.RETRY, Status.FAILED)  # a user may skip it

    BULK_BATCH = 500

    # No index of its own: task_run_status (run, status) leads with it, for lookups and a run's delete alike.
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks",
                            db_index=False)
    incoming = models.ForeignKey(
        "connections.Incoming", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    identifier = models.CharField(max_length=255, blank=True)  # indexed in Meta: equality only, no LIKE index
    # What people call it and search it by (the Incoming's templates, see connections.task_names).
    label = models.CharField(max_length=255, blank=True)
    label_key = models.CharField(max_length=255, blank=True)
    search_key = models.CharField(max_length=255, blank=True)
    division = models.IntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    transformed = models.JSONField(null=True, blank=True)
    # The route's chain waited on this entity (a lookup not answered yet): it runs again before publishing.
    retransform = models.BooleanField(default=False)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    external_key = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    log = models.JSONField(default=list, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Why a task in Retry waits for ``next_attempt_at`` when it is no failure (``defer``: quota, a window).
    wait_reason = models.CharField(max_length=300, blank=True)
    processing_since = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # When a worker message for this task was last sent (cleared by its claim): a sweep never sends it twice,
    # and a Retry without it waits in the database until due (long waits are no broker countdowns).
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="task_status_created"),
            models.Index(fields=["run", "status"], name="task_run_status"),
            models.Index(fields=["search_key"], name="task_search_key"),
            models.Index(fields=["identifier"], name="task_identifier"),  # the Tasks filter ?identifier= (equal)
            models.Index(fields=["label_key"], name="task_label_key"),
            # The Tasks page's order, unfiltered: its page of ids (and today's chart) come from the index alone.
            models.Index(fields=["created_at", "id"], include=["run", "status"], name="task_created"),
            models.Index(fields=["status", "run"], name="task_status_run"),  # its counts per status, from the index
            # The dashboard's "last 24 hours" (tasks per status, failed ones): read from the index alone.
            models.Index(fields=["updated_at"], include=["status", "run"], name="task_updated"),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.label or self.identifier})"

    @staticmethod
    def in_routes() -> models.Q:
        """Tasks of route runs: what the Tasks page and every total count.

        A run of an Incoming on its own (Run now on the Incoming, ``run_incoming``) is a preview: its tasks
        are never published, are not counted, and are pruned after ``DASH_PREVIEW_TASK_HOURS``.
        """
        from .routes import RouteRun

        # A semi-join on the runs of routes (a few thousand ids, hashed) rather than two joins per task row.
        return models.Q(run_id__in=RouteRun.objects.filter(run__isnull=False).values("run_id"))

    @property
    def is_preview(self) -> bool:
        return self.run_id is None or not hasattr(self.run, "route_run")

    @staticmethod
    def search_filter(text: str) -> models.Q | None:
        """Tasks whose label or key starts with ``text`` (case-insensitive): two index range scans."""
        from ..task_names import prefix_range

        bounds = prefix_range(text)
        if bounds is None:
            return None
        low, high = bounds
        return (models.Q(search_key__gte=low, search_key__lt=high)
                | models.Q(label_key__gte=low, label_key__lt=high))

    @staticmethod
    def text_filter(text: str) -> models.Q:
        """Tasks with ``text`` anywhere in their identifier, key, error or skip reason (case-insensitive).

        On PostgreSQL one expression that a trigram index covers (migration 0010); elsewhere four scans.
        """
        if connection.vendor == "postgresql":
            haystack = RawSQL(TEXT_SEARCH_SQL, [], output_field=models.TextField())  # noqa: S611 - a constant
            return models.Q(Contains(haystack, text.upper()))
        return (models.Q(identifier__icontains=text) | models.Q(external_key__icontains=text)
                | models.Q(error__icontains=text) | models.Q(skip_reason__icontains=text))

    @staticmethod
    def log_line(message: str, level: str = "info") -> dict[str, str]:
        return {"at": timezone.now().isoformat(), "level": level, "message": message}

    def add_log(self, message: str, level: str = "info", *, save: bool = True) -> None:
        self.log = [*(self.log or []), self.log_line(message, level)]
        if save:
            self.save(update_fields=["log", "updated_at"])

    # -- transitions ------------------------------------------------------------------------------------
    def _move(self, to: str, rows: TaskQuerySet, *, message: str, level: str = "info", **fields: Any) -> bool:
        """The one place a task changes status: a filtered UPDATE of ``rows`` (this task, in the states it may
        leave); the instance follows only when the row moved. Log lines added before are saved with it."""
        log = [*(self.log or []), *([self.log_line(message, level)] if message else [])]
        values = {"status": to, "log": log, "updated_at": timezone.now(), "wait_reason": "", **fields}
        if rows.filter(pk=self.pk).update(**values) != 1:
            return False
        for name, value in values.items():
            setattr(self, name, value)
        return True

    def _claimed(self) -> TaskQuerySet:
        """This task, while this worker's claim holds."""
        return Task.objects.filter(status=Task.Status.PROCESSING, claim_token=self.claim_token)

    def renew_claim(self) -> bool:
        """Confirm the claim just before publishing: False when the repair job took the task back meanwhile."""
        if self.claim_token is None:
            return False
        token, now = uuid.uuid4(), timezone.now()
        if not self._claimed().filter(pk=self.pk).update(claim_token=token, processing_since=now):
            return False
        self.claim_token, self.processing_since = token, now
        return True

    def finish(self, message: str, **fields: Any) -> bool:
        return self._move(Task.Status.FINISHED, self._claimed(), message=message, claim_token=None,
                          processing_since=None, **fields)

    def fail(self, message: str, **fields: Any) -> bool:
        return self._move(Task.Status.FAILED, self._claimed(), message=message, level="error", claim_token=None,
                          processing_since=None, **fields)

    def retry_later(self, at: datetime, message: str, **fields: Any) -> bool:
        return self._move(Task.Status.RETRY, self._claimed(), message=message, level="warning", next_attempt_at=at,
                          claim_token=None, processing_since=None, **fields)

    def defer(self, until: datetime, reason: str, *, request: dict[str, Any] | None = None,
              counted: bool | None = None) -> bool:
        """Processing -> Retry at ``until`` because the other side cannot take it yet (``connections.waits``):
        no failure, and the attempt is given back, unless something may have reached the other side
        (``request``): then it counts (unless ``counted`` is False: an outage), and the next attempt looks
        before writing."""
        from ..waits import until_text

        counted = request is not None if counted is None else counted
        fields: dict[str, Any] = {"request": request} if request is not None else {}
        moved = self._move(Task.Status.RETRY, self._claimed(), message=f"Waiting: {reason} until {until_text(until)}"
                           + ("" if counted else " (not counted as an attempt)"),
                           next_attempt_at=until, wait_reason=reason[:300], claim_token=None, processing_since=None,
                           **fields)
        if moved and not counted:
            Task.objects.filter(pk=self.pk, attempts__gt=0).update(attempts=F("attempts") - 1)
            self.attempts = max(0, self.attempts - 1)
        return moved

    @staticmethod
    def defer_claimed(task_ids: list[int], claim_token: Any, until: datetime, reason: str) -> list[int]:
        """``defer`` for tasks of a batch claimed together and not yet reached: one UPDATE, no log line each."""
        rows = Task.objects.filter(pk__in=task_ids, status=Task.Status.PROCESSING, claim_token=claim_token)
        ids = list(rows.values_list("pk", flat=True))
        Task.objects.filter(pk__in=ids, status=Task.Status.PROCESSING, claim_token=claim_token).update(
            status=Task.Status.RETRY, next_attempt_at=until, wait_reason=reason[:300], claim_token=None,
            processing_since=None, attempts=Greatest(F("attempts") - 1, Value(0)), updated_at=timezone.now())
        return ids

    def skip(self, reason: str, *, message: str, claimed: bool = False) -> bool:
        """Skip the task: by its worker (``claimed``), or by a user while it waits or failed."""
        rows = self._claimed() if claimed else Task.objects.filter(status__in=Task.SKIPPABLE)
        return self._move(Task.Status.SKIPPED, rows, message=message, skip_reason=reason[:500],
                          next_attempt_at=None, claim_token=None, processing_since=None)

    def requeue(self, message: str) -> bool:
        """A user asks for another go: Retry, due now, with a fresh count of attempts (``requeue_many``)."""
        if not Task.requeue_many([self.pk], message):
            return False
        self.refresh_from_db(fields=["status", "log", "next_attempt_at", "attempts", "error", "claim_token",
                                     "processing_since", "queued_at", "wait_reason", "updated_at"])
        return True

    @staticmethod
    def requeue_many(task_ids: list[int], message: str, *, queued: bool = False) -> list[tuple[int, int | None]]:
        """``requeue`` of many tasks at once (a user's retry of all matching): the retryable ones among
        ``task_ids`` locked, then one UPDATE that appends the log line in the database, in one short transaction
        (a row-by-row UPDATE of 500 tasks held their locks ten times longer). ``queued``: their worker messages
        are sent with this transaction (``queued_at`` is set in the same UPDATE). Returns (id, run id) of those
        moved."""
        with transaction.atomic():
            rows = Task.objects.filter(pk__in=task_ids, status__in=Task.RETRYABLE).order_by("pk")
            moved: list[tuple[int, int | None]] = list(rows.select_for_update().values_list("pk", "run_id"))
            if moved:
                now = timezone.now()
                Task.objects.filter(pk__in=[pk for pk, _ in moved]).update(
                    status=Task.Status.RETRY, log=AppendToList("log", Task.log_line(message)), next_attempt_at=now,
                    attempts=0, error="", claim_token=None, processing_since=None, wait_reason="",
                    queued_at=now if queued else None, updated_at=now)
        return moved

    def release(self, message: str) -> bool:
        """Take back a task whose worker stopped (it stays Processing forever otherwise): Retry, due now."""
        rows = Task.objects.filter(status=Task.Status.PROCESSING, claim_token=self.claim_token,
                                   processing_since=self.processing_since)
        return self._move(Task.Status.RETRY, rows, message=message, level="warning", next_attempt_at=timezone.now(),
                          claim_token=None, processing_since=None)

    def edit_payload(self, edited: Any, *, user: Any) -> None:
        """Replace the data this task publishes, keeping the version before in its log."""
        current = self.transformed if self.transformed is not None else self.data
        line = self.log_line(f"Payload edited by {user}.")
        line.update({"edit_before": current, "edit_after": edited})
        self.log = [*(self.log or []), line]
        self.transformed = edited
        self.save(update_fields=["log", "transformed", "updated_at"])
