"""The webhook form: parser, validators (secrets write-only: empty keeps the stored one), routes it feeds."""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from django import forms

from configuration.variables import report_unknown
from connections.models import Route

from .models import Webhook
from .parsers import ParserConfig, check_jmespath
from .validators import Validation

__all__ = ["WebhookForm"]

CONNECTOR_FIELDS = ("name", "enabled", "routes", "dedup_window_seconds")
SECRET_FIELDS = {"shared_secret": "use_secret_header", "hmac_secret": "use_hmac", "basic_password": "use_basic"}


def _secret(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=True, max_length=500, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


class WebhookForm(forms.ModelForm):
    items_path = forms.CharField(label="Items path (JMESPath)", required=False, max_length=300,
                                 help_text="JSON: where the list of items is, e.g. orders or data.items[*]; "
                                           "empty takes the whole body (a list, or one item).")
    delimiter = forms.CharField(label="CSV delimiter", required=False, max_length=1, initial=",", strip=False)
    quotechar = forms.CharField(label="CSV quote character", required=False, max_length=1, initial='"', strip=False)
    header = forms.BooleanField(label="CSV has a header line", required=False, initial=True)
    item_tag = forms.CharField(label="XML item element", required=False, max_length=100,
                               help_text="XML: the element of one item, e.g. order; empty takes the root's children.")

    use_secret_header = forms.BooleanField(label="Shared secret in a header", required=False)
    secret_header = forms.CharField(label="Secret header", required=False, max_length=100, initial="X-Webhook-Secret")
    shared_secret = _secret("Shared secret", "Leave empty to keep the stored one.")

    use_hmac = forms.BooleanField(label="HMAC signature", required=False)
    hmac_header = forms.CharField(label="Signature header", required=False, max_length=100, initial="X-Signature")
    hmac_algorithm = forms.ChoiceField(label="Algorithm", choices=[("sha256", "SHA-256"), ("sha1", "SHA-1")],
                                       initial="sha256")
    hmac_encoding = forms.ChoiceField(label="Encoding", choices=[("hex", "hex"), ("base64", "base64")], initial="hex")
    hmac_prefix = forms.CharField(label="Prefix", required=False, max_length=50, strip=False,
                                  help_text="Text before the signature, e.g. sha256=")
    hmac_secret = _secret("HMAC secret", "The key both sides share; leave empty to keep the stored one.")

    use_basic = forms.BooleanField(label="Basic auth", required=False)
    basic_username = forms.CharField(label="Username", required=False, max_length=150)
    basic_password = _secret("Password", "Leave empty to keep the stored one.")

    use_timestamp = forms.BooleanField(label="Timestamp tolerance (against replays)", required=False)
    timestamp_header = forms.CharField(label="Timestamp header", required=False, max_length=100,
                                       initial="X-Timestamp", help_text="Epoch seconds or ISO 8601.")
    timestamp_tolerance = forms.IntegerField(label="Tolerance (seconds)", required=False, min_value=1,
                                             max_value=86400, initial=300)

    ip_allowlist = forms.CharField(label="IP allow-list", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text="One address or network per line (e.g. 203.0.113.0/24); empty allows all.")

    routes = forms.ModelMultipleChoiceField(label="Routes it feeds", queryset=Route.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text="Every item received becomes a task of each of these routes.")

    class Meta:
        model = Webhook
        fields = ["name", "enabled", "parser", "identifier_path", "dedup_header", "dedup_window_seconds", "sample"]
        labels = {"identifier_path": "Identifier path (JMESPath)", "dedup_header": "Delivery id header",
                  "dedup_window_seconds": "Duplicate window (seconds)", "sample": "Test body"}
        help_texts = {"dedup_window_seconds": "A delivery with the same delivery id (or, without one, the same body) "
                                              "inside this window creates no tasks.",
                      "sample": "What “Send test” posts; empty posts a small example for the parser."}
        widgets = {"sample": forms.Textarea(attrs={"rows": 4, "class": "mono"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        routes = cast(forms.ModelMultipleChoiceField, self.fields["routes"])
        routes.queryset = Route.objects.select_related("outgoing").order_by("name")
        webhook = self.instance
        if not webhook.pk:
            return
        if not self.is_generic:  # a connector's hook: its own checks and parsing; name, switch and routes here
            for name in list(self.fields):
                if name not in CONNECTOR_FIELDS:
                    del self.fields[name]
            self.initial["routes"] = list(webhook.routes.values_list("pk", flat=True))
            return
        config = ParserConfig.model_validate(webhook.parser_config or {})
        self.initial.update({"items_path": config.items_path, "delimiter": config.delimiter,
                             "quotechar": config.quotechar, "header": config.header, "item_tag": config.item_tag})
        validation = Validation.model_validate(webhook.validation or {})
        if validation.secret_header:
            self.initial.update(use_secret_header=True, secret_header=validation.secret_header.header)
        if validation.hmac:
            self.initial.update(use_hmac=True, hmac_header=validation.hmac.header,
                                hmac_algorithm=validation.hmac.algorithm, hmac_encoding=validation.hmac.encoding,
                                hmac_prefix=validation.hmac.prefix)
        if validation.basic:
            self.initial.update(use_basic=True, basic_username=validation.basic.username)
        if validation.timestamp:
            self.initial.update(use_timestamp=True, timestamp_header=validation.timestamp.header,
                                timestamp_tolerance=validation.timestamp.tolerance_seconds)
        self.initial["ip_allowlist"] = "\n".join(validation.ip_allowlist)
        self.initial["routes"] = list(webhook.routes.values_list("pk", flat=True))
        stored = webhook.get_secrets()
        for name in SECRET_FIELDS:
            if stored.get(name):
                self.fields[name].help_text = "Stored (hidden). Leave empty to keep it."

    @property
    def is_generic(self) -> bool:
        return self.instance.kind == "generic"

    def clean_items_path(self) -> str:
        text = (self.cleaned_data.get("items_path") or "").strip()
        error = check_jmespath(text)
        if error:
            raise forms.ValidationError(f"Not valid JMESPath: {error}")
        return text

    def clean_identifier_path(self) -> str:
        text = (self.cleaned_data.get("identifier_path") or "").strip()
        error = check_jmespath(text)
        if error:
            raise forms.ValidationError(f"Not valid JMESPath: {error}")
        return text

    def clean_ip_allowlist(self) -> list[str]:
        entries = [line.strip() for line in (self.cleaned_data.get("ip_allowlist") or "").splitlines() if line.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise forms.ValidationError(f"{entry!r} is not an IP address or network.") from None
        return entries

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        report_unknown(self)
        if not self.is_generic:
            return data
        stored = self.instance.get_secrets() if self.instance.pk else {}
        for secret, switch in SECRET_FIELDS.items():
            if data.get(switch) and not data.get(secret) and not stored.get(secret):
                self.add_error(secret, "Give the secret: this check cannot work without one.")
        for switch, header in (("use_secret_header", "secret_header"), ("use_hmac", "hmac_header"),
                               ("use_timestamp", "timestamp_header")):
            if data.get(switch) and not (data.get(header) or "").strip():
                self.add_error(header, "Give the header name.")
        if data.get("use_basic") and not (data.get("basic_username") or "").strip():
            self.add_error("basic_username", "Give the username.")
        if data.get("parser") == Webhook.Parser.CSV:
            for name in ("delimiter", "quotechar"):
                if len(data.get(name) or "") != 1:
                    self.add_error(name, "One character.")
        return data

    def save(self, commit: bool = True) -> Webhook:
        webhook: Webhook = super().save(commit=False)
        data = self.cleaned_data
        if not self.is_generic:
            if commit:
                webhook.save()
                self.save_routes(webhook)
            return webhook
        webhook.parser_config = ParserConfig(
            items_path=data.get("items_path") or "", delimiter=data.get("delimiter") or ",",
            quotechar=data.get("quotechar") or '"', header=bool(data.get("header")),
            item_tag=data.get("item_tag") or "").model_dump()
        validation: dict[str, Any] = {"ip_allowlist": data.get("ip_allowlist") or []}
        if data.get("use_secret_header"):
            validation["secret_header"] = {"header": data["secret_header"].strip()}
        if data.get("use_hmac"):
            validation["hmac"] = {"header": data["hmac_header"].strip(), "algorithm": data["hmac_algorithm"],
                                  "encoding": data["hmac_encoding"], "prefix": data.get("hmac_prefix") or ""}
        if data.get("use_basic"):
            validation["basic"] = {"username": data["basic_username"].strip()}
        if data.get("use_timestamp"):
            validation["timestamp"] = {"header": data["timestamp_header"].strip(),
                                       "tolerance_seconds": data.get("timestamp_tolerance") or 300}
        webhook.validation = Validation.model_validate(validation).model_dump(exclude_none=True)
        webhook.set_secrets({name: data.get(name) or "" for name in SECRET_FIELDS})
        if commit:
            webhook.save()
            self.save_routes(webhook)
        return webhook

    def save_routes(self, webhook: Webhook) -> None:
        chosen = [route.pk for route in self.cleaned_data.get("routes") or []]
        Route.objects.filter(webhook=webhook).exclude(pk__in=chosen).update(webhook=None)
        Route.objects.filter(pk__in=chosen).update(webhook=webhook)
