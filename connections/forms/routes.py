"""The Route form: incoming, ordered transformers, outgoing, retry policy, batch size and schedule."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any, cast

from celery.schedules import crontab
from django import forms

from ..models import Route, Transformer

__all__ = ["TRANSFORMER_SLOTS", "RouteForm"]

TRANSFORMER_SLOTS = 4


@cache
def _timezones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


class RouteForm(forms.ModelForm):
    timezone = forms.ChoiceField(label="Timezone", initial="Europe/Amsterdam",
                                 help_text="Cron schedules fire at these wall-clock times.")

    class Meta:
        model = Route
        fields = ["name", "incoming", "webhook", "outgoing", "enabled", "max_attempts", "backoff_seconds", "batch_size",
                  "schedule_kind", "interval_seconds", "cron", "timezone", "task_label", "task_key"]
        labels = {"incoming": "Incoming", "webhook": "Webhook", "outgoing": "Outgoing", "max_attempts": "Max attempts",
                  "backoff_seconds": "Backoff (seconds)", "batch_size": "Batch size", "schedule_kind": "Schedule",
                  "interval_seconds": "Every (seconds)", "cron": "Cron", "task_label": "Task label",
                  "task_key": "Task search key"}
        help_texts = {"cron": "Five fields: minute hour day-of-month month day-of-week, e.g. */15 * * * *"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["timezone"]).choices = _timezones()
        current = self.instance.ordered_transformers() if self.instance.pk else []
        for slot in range(TRANSFORMER_SLOTS):
            name = f"transformer_{slot + 1}"
            self.fields[name] = forms.ModelChoiceField(
                queryset=Transformer.objects.all(), required=False, label=f"Transformer {slot + 1}",
                help_text="Applied in order, between the Incoming and the Outgoing." if slot == 0 else "",
            )
            if slot < len(current):
                self.initial[name] = current[slot].pk

    @property
    def transformer_fields(self) -> list[forms.BoundField]:
        return [self[f"transformer_{slot + 1}"] for slot in range(TRANSFORMER_SLOTS)]

    def clean_cron(self) -> str:
        text = " ".join((self.cleaned_data.get("cron") or "").split())
        if not text:
            return ""
        fields = text.split()
        if len(fields) != 5:
            raise forms.ValidationError("Give five fields: minute hour day-of-month month day-of-week.")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        try:
            crontab(minute, hour, day_of_week, day_of_month, month_of_year)
        except (ValueError, TypeError) as exc:
            raise forms.ValidationError(f"Not a valid cron line: {exc}") from exc
        return text

    def _clean_name_template(self, name: str) -> str:
        from ..task_names import check_name_template

        text = (self.cleaned_data.get(name) or "").strip()
        problem = check_name_template(text)
        if problem:
            raise forms.ValidationError(f"Not a usable template: {problem}.")
        return text

    def clean_task_label(self) -> str:
        return self._clean_name_template("task_label")

    def clean_task_key(self) -> str:
        return self._clean_name_template("task_key")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("schedule_kind")
        if kind == Route.ScheduleKind.INTERVAL and not data.get("interval_seconds"):
            self.add_error("interval_seconds", "Give the number of seconds between runs.")
        if kind == Route.ScheduleKind.CRON and not data.get("cron") and "cron" not in self.errors:
            self.add_error("cron", "Give a cron line.")
        if not data.get("incoming") and not data.get("webhook") and "incoming" not in self.errors:
            self.add_error("incoming", "Choose an Incoming to read, a Webhook that feeds the route, or both.")
        if kind in (Route.ScheduleKind.INTERVAL, Route.ScheduleKind.CRON) and not data.get("incoming"):
            self.add_error("schedule_kind", "A schedule runs the Incoming: choose one, or leave the schedule off.")
        self._reconcile(data)
        if data.get("batch_size") == 0:
            self.add_error("batch_size", "At least 1.")
        if data.get("max_attempts") == 0:
            self.add_error("max_attempts", "At least 1.")
        return data

    def _reconcile(self, data: dict[str, Any]) -> None:
        """A webhook that may miss events (its kind's ``reconcile_every``) needs an incremental Incoming read on
        a schedule: required here, and a new route gets the kind's interval unless it was given a schedule."""
        from webhooks.kinds import get_kind

        hook = data.get("webhook")
        handler = get_kind(hook.kind) if hook is not None else None
        every = handler.reconcile_every if handler is not None else None
        if not every or handler is None:
            return
        incoming = data.get("incoming")
        if incoming is None:
            if "incoming" not in self.errors:
                self.add_error("incoming", f"{handler.label} may miss events: choose the Incoming whose incremental "
                                           "read picks them up (it also decides which events this route takes).")
            return
        if not incoming.incremental:
            self.add_error("incoming", f"{incoming} reads everything on every run: tick Incremental on it, so that "
                                       "reconciling what the webhook missed costs one call when nothing changed.")
        if not self.instance.pk and data.get("schedule_kind") in (None, "", Route.ScheduleKind.NONE):
            data["schedule_kind"], data["interval_seconds"] = Route.ScheduleKind.INTERVAL, every
            self.reconcile_note = (f"{handler.label} may miss events: this route reconciles by reading {incoming} "
                                   f"every {every // 60} minutes (change it under Schedule).")

    reconcile_note = ""

    def ordered_transformers(self) -> list[Transformer]:
        chosen = [self.cleaned_data.get(f"transformer_{slot + 1}") for slot in range(TRANSFORMER_SLOTS)]
        return [t for t in chosen if t is not None]

    def save(self, commit: bool = True) -> Route:
        route: Route = super().save(commit=commit)
        if commit:
            route.set_transformers(self.ordered_transformers())
        return route
