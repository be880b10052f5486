"""The form that makes a personal API token."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

__all__ = ["TokenForm"]

LIVES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year")]


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What the token is for, e.g. “CI deploy”.")
    days = forms.TypedChoiceField(label="Expires after", coerce=int, initial=90, choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        longest = settings.DASH_API_TOKEN_MAX_DAYS
        choices = [(days, label) for days, label in LIVES if days <= longest] or [(longest, f"{longest} days")]
        cast(forms.TypedChoiceField, self.fields["days"]).choices = choices
