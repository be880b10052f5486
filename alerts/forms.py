"""Forms of the alerts app: channels (the webhook URL write-only), rules and maintenance windows."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import Channel, MaintenanceWindow, Rule

__all__ = ["ChannelForm", "MaintenanceWindowForm", "RuleForm"]


class ChannelForm(forms.ModelForm):
    """The webhook URL holds the receiver's token: stored encrypted, never shown again (empty keeps it)."""

    url = forms.URLField(label="Webhook URL", required=False, max_length=2000, assume_scheme="https",
                         widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                         help_text="Slack: an incoming-webhook URL; Teams: a workflow's “When a Teams webhook request "
                                   "is received” URL; generic: any URL that takes a JSON POST. Leave empty to keep.")

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "recipients", "url", "daily_digest"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        if kind == Channel.Kind.EMAIL:
            if not data.get("recipients", "").strip():
                self.add_error("recipients", "Give at least one e-mail address.")
            else:
                field = forms.EmailField()
                for address in [a.strip() for a in data["recipients"].replace(";", ",").split(",") if a.strip()]:
                    try:
                        field.clean(address)
                    except forms.ValidationError:
                        self.add_error("recipients", f"{address} is not an e-mail address.")
        elif not data.get("url") and not self.instance.get_secret("url"):
            self.add_error("url", "Enter the webhook URL.")
        return data

    def save(self, commit: bool = True) -> Channel:
        channel: Channel = super().save(commit=False)
        if channel.kind == Channel.Kind.EMAIL:
            channel.secrets = ""
        else:
            channel.set_secrets({"url": self.cleaned_data.get("url") or ""})
        if commit:
            channel.save()
        return channel


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["name", "kind", "route", "threshold", "percent", "channels", "repeat_minutes", "notify_resolved",
                  "enabled"]
        widgets = {"channels": forms.CheckboxSelectMultiple}
        help_texts = {
            "threshold": "N failed tasks · H hours without success · days a refresh token idles (25) · M minutes "
                         "without progress (15) or heartbeat (3) · N failed webhook deliveries. Empty: the default.",
            "percent": "Failed tasks: P% of a run's tasks · Quota: percent of the daily quota used (80; add a second "
                       "rule for 95).",
            "route": "Route rules (run failed, failed tasks, no success, stalled) watch only this route; empty: all.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        route_field = self.fields["route"]
        assert isinstance(route_field, forms.ModelChoiceField)
        route_field.empty_label = "Every route"

    def clean_percent(self) -> int | None:
        value: int | None = self.cleaned_data.get("percent")
        if value is not None and not 1 <= value <= 100:
            raise forms.ValidationError("A percentage between 1 and 100.")
        return value


class MaintenanceWindowForm(forms.ModelForm):
    class Meta:
        model = MaintenanceWindow
        fields = ["route", "http_client", "starts_at", "ends_at", "repeat", "reason"]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
        labels = {"http_client": "HTTP Client"}
        help_texts = {"repeat": "Daily or weekly windows repeat at the same local time as the first one.",
                      "http_client": "Every route whose Incoming or Outgoing uses this client rests too."}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("route") and not data.get("http_client"):
            raise forms.ValidationError("Choose a route or an HTTP client.")
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end:
            if end <= start:
                self.add_error("ends_at", "The end must come after the start.")
            limit = {"daily": 1, "weekly": 7}.get(data.get("repeat") or "")
            if limit and (end - start).total_seconds() > limit * 86400:
                self.add_error("ends_at", "A repeated window must be shorter than its period.")
        return data
