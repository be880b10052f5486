"""Routes: an Incoming, a chain of transformers and an Outgoing, run by hand or on a schedule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from .runs import RunStatus, TriggerSource
from .tasks import Task, TaskQuerySet

__all__ = ["Route", "RouteRun", "RouteTransformer"]

SCHEDULED_TASK = "connections.tasks.run_scheduled_route"
# Sent with ``route=`` after a route's transformer chain was set (the version history keeps the chain).
chain_set = Signal()


class Route(models.Model):
    """Data read by an Incoming flows through transformers into an Outgoing; each entity is a Task.

    The schedule lives in django-celery-beat: ``save()`` creates, updates or removes the route's
    ``PeriodicTask`` so that editing the route here is the only place to change it.
    """

    class ScheduleKind(models.TextChoices):
        NONE = "none", "No schedule"
        INTERVAL = "interval", "Every N seconds"
        CRON = "cron", "Cron"

    name = models.CharField(max_length=200, unique=True)
    incoming = models.ForeignKey("connections.Incoming", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="routes", help_text="What a run reads; empty when a webhook feeds it.")
    webhook = models.ForeignKey("webhooks.Webhook", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="routes", help_text="Every item this webhook receives becomes a task.")
    transformers = models.ManyToManyField(
        "connections.Transformer", through="RouteTransformer", blank=True, related_name="routes"
    )
    outgoing = models.ForeignKey("connections.Outgoing", on_delete=models.PROTECT, related_name="routes")
    enabled = models.BooleanField(default=True)
    max_attempts = models.PositiveIntegerField(default=5, help_text="Attempts per task before it fails.")
    backoff_seconds = models.PositiveIntegerField(
        default=30, help_text="Wait before the first retry; doubles with every attempt."
    )
    batch_size = models.PositiveIntegerField(default=50, help_text="Tasks per worker job.")
    schedule_kind = models.CharField(max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.NONE)
    interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True, help_text="minute hour day-of-month month day-of-week")
    timezone = models.CharField(max_length=64, default="Europe/Amsterdam")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="route"
    )
    # How this route's tasks are named and found; empty: the Incoming's (a webhook-fed route has its own only).
    task_label = models.CharField(
        max_length=200, blank=True,
        help_text="How this route's tasks are named, e.g. &{Code} – &{Name}. Empty: as the Incoming names them.")
    task_key = models.CharField(
        max_length=200, blank=True,
        help_text="What this route's tasks are found by on the Tasks page, e.g. &{Code}. Empty: the Incoming's.")
    # A scheduled fire that found the previous run still going starts nothing: it is recorded, not discarded.
    skipped_fires = models.PositiveIntegerField(default=0)
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    last_skip_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # --- the schedule, kept in django-celery-beat -------------------------------------------------

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_schedule()

    def get_absolute_url(self) -> str:
        return reverse("connections:route_detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            periodic = self.periodic_task
            result = super().delete(*args, **kwargs)
            if periodic is not None:
                periodic.delete()
            return result

    def ordered_transformers(self) -> list[Any]:
        return [link.transformer for link in self.links.select_related("transformer").order_by("position", "pk")]

    def task_namer(self) -> Any:
        """Names and search keys for this route's tasks: its own templates, else its Incoming's."""
        from ..task_names import TaskNamer

        incoming = self.incoming
        return TaskNamer(self.task_label or (incoming.task_label if incoming else ""),
                         self.task_key or (incoming.task_key if incoming else ""))

    def set_transformers(self, transformers: list[Any]) -> None:
        self.links.all().delete()
        RouteTransformer.objects.bulk_create(
            RouteTransformer(route=self, transformer=t, position=i) for i, t in enumerate(transformers)
        )
        chain_set.send(sender=Route, route=self)

    def active_run(self) -> RouteRun | None:
        """The active read (manual or scheduled); webhook runs only publish and are not counted here."""
        return self.runs.active().exclude(trigger=TriggerSource.WEBHOOK).order_by("-pk").first()

    @property
    def schedule_text(self) -> str:
        """The schedule in words: "Every 15 minutes, Monday through Friday (Europe/Amsterdam)", "manual"."""
        from ..schedules import cron_in_words

        if self.schedule_kind == self.ScheduleKind.INTERVAL and self.interval_seconds:
            return f"every {self.interval_seconds} s"
        if self.schedule_kind == self.ScheduleKind.CRON and self.cron:
            return f"{cron_in_words(self.cron)} ({self.timezone})"
        return "manual"

    def next_fires(self, *, now: Any = None, count: int = 3) -> list[Any]:
        """When beat will start this route next (empty when it has no enabled schedule)."""
        from ..schedules import next_cron_times, next_interval_times

        now = now or timezone.now()
        if not self.enabled or self.periodic_task is None:
            return []
        if self.schedule_kind == self.ScheduleKind.INTERVAL and self.interval_seconds:
            return next_interval_times(int(self.interval_seconds), last_fired=self.periodic_task.last_run_at,
                                       now=now, count=count)
        if self.schedule_kind == self.ScheduleKind.CRON and self.cron:
            return next_cron_times(self.cron, self.timezone, after=now, count=count)
        return []

    def record_skipped_fire(self, reason: str) -> None:
        """A scheduled fire found the previous run still going: count it and keep when and why (shown on the page)."""
        now = timezone.now()
        Route.objects.filter(pk=self.pk).update(
            skipped_fires=models.F("skipped_fires") + 1, last_skipped_at=now, last_skip_reason=reason[:300])
        self.refresh_from_db(fields=["skipped_fires", "last_skipped_at", "last_skip_reason"])

    def last_fire(self) -> dict[str, Any] | None:
        """What the most recent scheduled fire did: started a run, or was skipped (a run still going, a
        maintenance window): ``why`` for the badge, ``reason`` for the detail beside it."""
        started = self.runs.filter(trigger=TriggerSource.SCHEDULED).order_by("-pk").first()
        if self.last_skipped_at and (started is None or self.last_skipped_at > started.created_at):
            head, _, rest = self.last_skip_reason.partition(": ")
            if head == "still running":
                return {"skipped": True, "at": self.last_skipped_at, "why": head, "reason": rest}
            why = "maintenance window" if head.startswith("In maintenance window") else "not started"
            return {"skipped": True, "at": self.last_skipped_at, "why": why, "reason": self.last_skip_reason}
        if started is not None:
            return {"skipped": False, "at": started.created_at, "route_run": started}
        return None

    def sync_schedule(self) -> None:
        """Create, update or delete this route's PeriodicTask to match its schedule fields."""
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

        wanted = self.schedule_kind != self.ScheduleKind.NONE and (
            (self.schedule_kind == self.ScheduleKind.INTERVAL and self.interval_seconds)
            or (self.schedule_kind == self.ScheduleKind.CRON and self.cron.strip())
        )
        periodic = self.periodic_task
        if not wanted:
            if periodic is not None:
                Route.objects.filter(pk=self.pk).update(periodic_task=None)
                self.periodic_task = None
                periodic.delete()
            return
        fields: dict[str, Any] = {
            "name": f"route:{self.pk}",
            "task": SCHEDULED_TASK,
            "kwargs": json.dumps({"route_id": self.pk}),
            "enabled": self.enabled,
            "interval": None,
            "crontab": None,
        }
        if self.schedule_kind == self.ScheduleKind.INTERVAL:
            seconds = int(self.interval_seconds or 0)
            fields["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=seconds, period=IntervalSchedule.SECONDS
            )
            # A beat backlog never stacks: an undelivered trigger expires about when the next one is due
            # (at least 5 s, so a broker that polls can still deliver it; extra triggers find the run active).
            fields["expire_seconds"] = max(5, seconds - 1)
        else:
            minute, hour, day_of_month, month_of_year, day_of_week = self.cron.split()
            fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                day_of_week=day_of_week, timezone=self.timezone,
            )
            fields["expire_seconds"] = 55
        if periodic is None:
            periodic = PeriodicTask.objects.create(**fields)
            Route.objects.filter(pk=self.pk).update(periodic_task=periodic)
            self.periodic_task = periodic
        else:
            for key, value in fields.items():
                setattr(periodic, key, value)
            periodic.save()


class RouteTransformer(models.Model):
    """One transformer in a route's chain, at a position (lowest first)."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="links")
    transformer = models.ForeignKey("connections.Transformer", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.route} #{self.position}: {self.transformer}"


class RouteRunQuerySet(models.QuerySet["RouteRun"]):
    def active(self) -> RouteRunQuerySet:
        return self.filter(status__in=RouteRun.ACTIVE)

    def with_numbers(self) -> RouteRunQuerySet:
        """Each run's ``number`` within its route, in the same query (runs of many routes: no query per run)."""
        earlier = (RouteRun.objects.filter(route_id=OuterRef("route_id"), pk__lte=OuterRef("pk")).order_by()
                   .values("route_id").annotate(n=Count("pk")).values("n"))
        return self.annotate(number=Subquery(earlier, output_field=models.IntegerField()))


class RouteRun(models.Model):
    """A run of a route: the Incoming's Run (which owns the tasks) plus publishing state.

    Reading --finish_reading--> Publishing --finish_if_done (no open task left)--> Finished, or Failed when
    reading failed. At most one active read per route (a partial unique constraint): a "Run now" click
    racing the schedule cannot start a second one. Webhook runs (one per delivery, publishing only) are
    not reads and may overlap.
    """

    Status = RunStatus  # never queued nor cancelled: Reading, Publishing, then Succeeded or Failed

    ACTIVE = (Status.READING, Status.PUBLISHING)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED)

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="runs")
    run = models.OneToOneField("connections.Run", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="route_run")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READING)
    trigger = models.CharField(max_length=12, choices=TriggerSource.choices, default=TriggerSource.MANUAL)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reading_finished_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True)
    api_calls = models.PositiveIntegerField(default=0)
    # The last wait its work met (``connections.waits``), shown while ``waiting_until`` is ahead.
    wait_reason = models.CharField(max_length=300, blank=True)
    waiting_until = models.DateTimeField(null=True, blank=True)

    objects = RouteRunQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["route"],
                condition=models.Q(status__in=["reading", "publishing"], trigger__in=["manual", "scheduled"]),
                name="one_active_run_per_route",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.route} run {self.number}"

    @cached_property
    def number(self) -> int:
        """The run's number within its route (its first run is Run 1), not the global id."""
        return RouteRun.objects.filter(route_id=self.route_id, pk__lte=self.pk).count()

    @staticmethod
    def number_runs(route_runs: list[RouteRun]) -> list[RouteRun]:
        """Set ``number`` on a list of one route's runs (newest first) with one query instead of one per run."""
        if route_runs:
            newest = route_runs[0]
            count = RouteRun.objects.filter(route_id=newest.route_id, pk__lte=newest.pk).count()
            for offset, route_run in enumerate(route_runs):
                route_run.number = count - offset
        return route_runs

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self) -> timedelta:
        end = self.finished_at or timezone.now()
        return end - self.created_at

    def tasks(self) -> TaskQuerySet:
        """The tasks of this run (none before it has a Run)."""
        if self.run_id is None:
            return Task.objects.none()
        return Task.objects.filter(run_id=self.run_id)

    def open_tasks(self) -> TaskQuerySet:
        return self.tasks().filter(status__in=Task.OPEN)

    def touch(self, *, api_calls: int = 0, at: datetime | None = None) -> None:
        """Record progress: a heartbeat (the repair job leaves moving runs alone) and the calls made."""
        values: dict[str, Any] = {"heartbeat_at": at or timezone.now()}
        if api_calls:
            values["api_calls"] = F("api_calls") + api_calls
        RouteRun.objects.filter(pk=self.pk).update(**values)

    def wait(self, until: datetime, reason: str) -> None:
        """Record why its work waits and until when (and a heartbeat: the repair job leaves it alone)."""
        now = timezone.now()
        RouteRun.objects.filter(pk=self.pk).update(wait_reason=reason[:300], waiting_until=until, heartbeat_at=now)
        self.wait_reason, self.waiting_until = reason[:300], until

    def finish_reading(self, *, error: str = "", api_calls: int = 0, heartbeat_at: datetime | None = None) -> bool:
        """Reading is over (``error`` says why it stopped early): publish what was read. Once only."""
        now = timezone.now()
        moved = RouteRun.objects.filter(pk=self.pk, status=RouteRun.Status.READING).update(
            status=RouteRun.Status.PUBLISHING, reading_finished_at=now, heartbeat_at=heartbeat_at or now,
            error=error, api_calls=F("api_calls") + api_calls,  # publishing may have counted its calls already
        )
        if moved:
            self.status, self.reading_finished_at, self.error = RouteRun.Status.PUBLISHING, now, error
        return moved == 1

    def finish_if_done(self) -> bool:
        """Close a publishing run once none of its tasks is open; True when this call closed it.

        A run whose every task failed is Failed, not Finished: nothing it read arrived."""
        if self.run_id and self.open_tasks().exists():
            return False
        error = RouteRun.objects.filter(pk=self.pk, status=RouteRun.Status.PUBLISHING).values_list(
            "error", flat=True).first()  # fresh: reading may have ended with an error since this was loaded
        if error is None:
            return False
        if not error and self.run_id:
            counts = self.tasks().aggregate(total=models.Count("pk"),
                                            failed=models.Count("pk", filter=models.Q(status=Task.Status.FAILED)))
            if counts["total"] and counts["failed"] == counts["total"]:
                error = f"All {counts['total']} tasks failed."
        status = RouteRun.Status.FAILED if error else RouteRun.Status.SUCCEEDED
        now = timezone.now()
        closed = RouteRun.objects.filter(pk=self.pk, status=RouteRun.Status.PUBLISHING).update(
            status=status, finished_at=now, error=error)
        if closed:
            self.status, self.finished_at, self.error = status, now, error
        return closed == 1
