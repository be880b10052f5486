"""The generic HTTP connector's own state: the requests-per-minute window a client's workers share."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone

__all__ = ["RateWindow"]

WINDOW = timedelta(seconds=60)


class RateWindow(models.Model):
    """How many requests a client sent in the current minute, counted under a row lock by every process."""

    client = models.OneToOneField("clients.HttpClient", on_delete=models.CASCADE, related_name="rate_window")
    window_start = models.DateTimeField(default=timezone.now)
    used = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.used} requests since {self.window_start:%H:%M:%S} for client {self.client_id}"

    @classmethod
    def take(cls, client: object, limit: int) -> float:
        """Take a slot: 0 when granted, else the seconds until the window has room again."""
        for _ in range(2):
            try:
                with transaction.atomic():
                    row = cls.objects.select_for_update().filter(client=client).first()
                    if row is None:
                        cls.objects.create(client=client, used=1)
                        return 0.0
                    now = timezone.now()
                    if now - row.window_start >= WINDOW:
                        row.window_start, row.used = now, 0
                    if row.used < limit:
                        row.used += 1
                        row.save(update_fields=["window_start", "used"])
                        return 0.0
                    return max(0.01, (row.window_start + WINDOW - now).total_seconds())
            except IntegrityError:  # another process created the row first: count again under its lock
                continue
        return 1.0
