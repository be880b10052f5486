"""The HTTP client form: name, kind and *Log requests*, plus the fields the chosen client type declares."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from .models import HttpClient
from .registry import ClientType, client_type_choices

__all__ = ["AuthLogFilterForm", "ClientForm", "DivisionForm"]


class ClientForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    kind = forms.ChoiceField(label="Type", choices=())
    log_requests = forms.BooleanField(
        label="Log requests", required=False,
        help_text="Store every request this client makes (redacted: no tokens, codes or secrets) in the request log.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = client_type_choices()


def client_initial(client: HttpClient) -> dict[str, Any]:
    return {"name": client.name, "kind": client.kind, "log_requests": client.log_requests}


class DivisionForm(forms.Form):
    division = forms.TypedChoiceField(label="Division", coerce=int, choices=())

    def __init__(self, *args: Any, client_type: ClientType, client: HttpClient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["division"]).choices = client_type.divisions(client)


class AuthLogFilterForm(forms.Form):
    client = forms.ModelChoiceField(label="Client", queryset=HttpClient.objects.order_by("name"), required=False,
                                    empty_label="All clients")
    event = forms.ChoiceField(label="Event", required=False, choices=())
    since = forms.DateTimeField(label="From", required=False,
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    until = forms.DateTimeField(label="Until", required=False,
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def __init__(self, *args: Any, events: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["event"]).choices = [("", "All events"), *(events or [])]
