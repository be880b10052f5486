"""The audit trail's filter bar."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from .models import TRACKED, AuditEntry

__all__ = ["AuditFilterForm"]

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _object_types() -> list[tuple[str, str]]:
    types = [(model._meta.label_lower, str(model._meta.verbose_name).capitalize()) for model in TRACKED]
    return [("", "All objects"), *sorted(types, key=lambda item: item[1])]


class AuditFilterForm(forms.Form):
    user = forms.CharField(label="User", required=False, widget=forms.TextInput(attrs={"placeholder": "User"}))
    object_type = forms.ChoiceField(label="Object", required=False, choices=())
    object_id = forms.CharField(label="Object id", required=False, widget=forms.HiddenInput)
    action = forms.ChoiceField(label="Action", required=False,
                               choices=[("", "All actions"), *AuditEntry.Action.choices])
    since = forms.DateTimeField(label="From", required=False, widget=_DATETIME)
    until = forms.DateTimeField(label="Until", required=False, widget=_DATETIME)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = _object_types()  # type: ignore[attr-defined]

    def filter(self, entries: models.QuerySet[AuditEntry]) -> models.QuerySet[AuditEntry]:
        if not self.is_valid():
            return entries
        data = self.cleaned_data
        if data.get("user"):
            entries = entries.filter(username__iexact=data["user"].strip())
        if data.get("object_type"):
            entries = entries.filter(object_type=data["object_type"])
        if data.get("object_id"):
            entries = entries.filter(object_id=data["object_id"])
        if data.get("action"):
            entries = entries.filter(action=data["action"])
        if data.get("since"):
            entries = entries.filter(at__gte=data["since"])
        if data.get("until"):
            entries = entries.filter(at__lte=data["until"])
        return entries
