"""Routes: an Incoming, a chain of transformers and an Outgoing, run by hand or on a schedule."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

__all__ = ["Route", "RouteRun", "RouteTransformer"]

SCHEDULED_TASK = "connections.route_tasks.run_scheduled_route"


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
    incoming = models.ForeignKey("connections.Incoming", on_delete=models.PROTECT, related_name="routes")
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

    def set_transformers(self, transformers: list[Any]) -> None:
        self.links.all().delete()
        RouteTransformer.objects.bulk_create(
            RouteTransformer(route=self, transformer=t, position=i) for i, t in enumerate(transformers)
        )

    def active_run(self) -> RouteRun | None:
        return self.runs.filter(status__in=RouteRun.ACTIVE).order_by("-pk").first()

    @property
    def schedule_text(self) -> str:
        if self.schedule_kind == self.ScheduleKind.INTERVAL and self.interval_seconds:
            return f"every {self.interval_seconds} s"
        if self.schedule_kind == self.ScheduleKind.CRON and self.cron:
            return f"cron {self.cron} ({self.timezone})"
        return "manual"

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


class RouteRun(models.Model):
    """A run of a route: the Incoming's Run (which owns the tasks) plus publishing state.

    At most one active run per route (a partial unique constraint): a "Run now" click racing the
    schedule cannot start a second one.
    """

    class Status(models.TextChoices):
        READING = "reading", "Reading"
        PUBLISHING = "publishing", "Publishing"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.READING, Status.PUBLISHING)

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULED = "scheduled", "Scheduled"

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="runs")
    run = models.OneToOneField("connections.Run", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="route_run")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READING)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reading_finished_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True)
    api_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["route"], condition=models.Q(status__in=["reading", "publishing"]),
                name="one_active_run_per_route",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.route} run {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self) -> Any:
        end = self.finished_at or timezone.now()
        return end - self.created_at
