"""The Exact Online HTTP Client's own form fields and typed config (labels as Exact's docs name them)."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django import forms
from pydantic import BaseModel, ConfigDict, field_validator

from configuration.variables import has_reference

from .errors import AddressRefused
from .hosts import REGIONS, HostPolicy

__all__ = ["REGIONS", "ExactOnlineClientConfig", "ExactOnlineClientForm", "normalise_base_url"]

CUSTOM = "custom"
_SCOPES = re.compile(r"^[A-Za-z0-9 ._:,/-]*$")


def normalise_base_url(value: str) -> str:
    """``https://host[:port][/path]`` without a trailing slash or an ``/api`` suffix; ValueError otherwise.

    A value with a ``${NAME}`` variable is kept as written: its value is checked where it is resolved."""
    text = (value or "").strip().rstrip("/")
    if has_reference(text):
        return text
    if not text:
        raise ValueError("Enter the Base URI.")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Enter a full URL such as https://start.exactonline.nl.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("The Base URI is a bare address: no query, fragment or credentials.")
    policy = HostPolicy.current()
    if parts.scheme == "http" and not policy.plain_http_allowed(text):
        raise ValueError("Use https:// (plain http only for hosts on the allow-list, such as the local sandbox).")
    try:
        policy.check_url(text)
    except AddressRefused as exc:
        raise ValueError(f"Not accepted as Base URI: {exc.message}") from None
    if text.endswith("/api"):
        text = text[: -len("/api")]
    return text


class ExactOnlineClientConfig(BaseModel):
    """What an Exact Online HTTP Client stores in ``HttpClient.config`` (secrets are kept apart)."""

    model_config = ConfigDict(extra="ignore")

    base_url: str
    client_id: str
    scopes: str = ""

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return normalise_base_url(value)

    @field_validator("client_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        return value.strip() if has_reference(value) else str(uuid.UUID(value.strip()))


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class ExactOnlineClientForm(forms.Form):
    base_uri = forms.ChoiceField(label="Base URI", choices=[*REGIONS, (CUSTOM, "Custom URL (e.g. the sandbox)")],
                                 help_text="Exact Online is region-bound: use the site where the app is registered.")
    custom_base_uri = forms.CharField(label="Custom Base URI", required=False, max_length=300,
                                      widget=forms.URLInput(attrs={"placeholder": "https://…"}),
                                      help_text="Only for “Custom URL”, e.g. the local sandbox.")
    client_id = forms.CharField(label="Client ID", max_length=64,
                                widget=forms.TextInput(attrs={"placeholder": "b81cc4de-d192-400e-bcb4-09254394c52a",
                                                              "autocomplete": "off", "spellcheck": "false"}),
                                help_text="From Exact's App Center (a GUID).")
    client_secret = forms.CharField(label="Client Secret", required=False, max_length=500, strip=True,
                                    widget=_secret_input())
    webhook_secret = forms.CharField(label="Webhook secret", required=False, max_length=500, strip=True,
                                     widget=_secret_input(),
                                     help_text="Optional: the app's webhook secret, used to check webhook signatures.")
    scopes = forms.CharField(label="Scopes", required=False, max_length=1000,
                             help_text="Optional, as on the app registration (letters, digits, spaces, . _ : , / -).")

    def __init__(self, *args: Any, editing: bool = False, stored_secrets: frozenset[str] = frozenset(),
                 **kwargs: Any) -> None:
        initial = kwargs.get("initial") or {}
        if initial.get("base_url"):
            known = {value for value, _ in REGIONS}
            if initial["base_url"] in known:
                initial["base_uri"] = initial["base_url"]
            else:
                initial["base_uri"], initial["custom_base_uri"] = CUSTOM, initial["base_url"]
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.stored_secrets = stored_secrets if editing else frozenset()
        for name in ("client_secret", "webhook_secret"):
            if name in self.stored_secrets:
                self.fields[name].help_text = ("Leave empty to keep the stored value (changing the Base URI or "
                                               "Client ID removes it). " + (self.fields[name].help_text or ""))
                self.fields[name].widget.attrs["placeholder"] = "•••••• (stored; leave empty to keep)"
        if "client_secret" not in self.stored_secrets:
            self.fields["client_secret"].required = True
            self.fields["client_secret"].help_text = "From Exact's App Center; stored encrypted, never shown again."

    def clean_client_id(self) -> str:
        value = self.cleaned_data["client_id"].strip()
        if has_reference(value):
            return value
        value = value.strip("{}")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise forms.ValidationError("The Client ID must be a GUID such as b81cc4de-d192-400e-bcb4-09254394c52a.") \
                from None

    def clean_scopes(self) -> str:
        value = " ".join(self.cleaned_data.get("scopes", "").split())
        if not _SCOPES.match(value):
            raise forms.ValidationError("Scopes may only contain letters, digits, spaces and . _ : , / -")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        choice = cleaned.get("base_uri")
        raw = cleaned.get("custom_base_uri", "") if choice == CUSTOM else choice
        if choice == CUSTOM and not (raw or "").strip():
            self.add_error("custom_base_uri", "Enter the custom Base URI, or choose a region.")
        elif choice:
            try:
                cleaned["base_url"] = normalise_base_url(raw or "")
            except ValueError as exc:
                self.add_error("custom_base_uri" if choice == CUSTOM else "base_uri", str(exc))
        if self.stored_secrets and not cleaned.get("client_secret") and self._rebinds(cleaned):
            self.add_error("client_secret", "The Base URI or Client ID changed: enter the Client Secret again. "
                                            "A stored secret is never sent to a new address.")
        return cleaned

    def _rebinds(self, cleaned: dict[str, Any]) -> bool:
        """Whether the address or app the stored secrets belong to changes (see ``ClientType.bound_to``)."""
        return any(name in cleaned and cleaned[name] != self.initial.get(name) for name in ("base_url", "client_id"))

    def config_values(self) -> dict[str, Any]:
        """The values the client type stores (config + secrets), from a valid form."""
        data = self.cleaned_data
        return {"base_url": data["base_url"], "client_id": data["client_id"], "scopes": data.get("scopes", ""),
                "client_secret": data.get("client_secret", ""), "webhook_secret": data.get("webhook_secret", "")}
