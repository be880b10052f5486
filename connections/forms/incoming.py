"""The Incoming form: the platform's fields plus the chosen subscriber's own, checked before any call."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from configuration.variables import report_unknown
from lib.form_defaults import preselect_only_choice

from ..models import Incoming
from ..subscribers import SUBSCRIBERS, Subscriber
from .fields import KeyValueField

__all__ = ["IncomingForm"]


class IncomingForm(forms.ModelForm):
    subscriber = forms.ChoiceField(label="Subscriber", choices=())
    path_text = KeyValueField(label="Path", help_text="Path parameters, one key=value per line, e.g. division=123456.")
    other_query = KeyValueField(label="Query parameters", help_text="One key=value per line.")

    class Meta:
        model = Incoming
        fields = ["name", "http_client", "transformer", "pagination", "page_cap", "incremental", "enabled",
                  "task_label", "task_key"]
        labels = {"http_client": "HTTP Client", "transformer": "Transformer", "pagination": "Pagination",
                  "page_cap": "Page cap", "incremental": "Incremental"}
        help_texts = {"transformer": "Optional: applied to {path, query, cursor} before each request, e.g. to put "
                                     "\u201cmodified since the last run\u201d into a filter."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = SUBSCRIBERS.choices()
        cast(forms.ChoiceField, self.fields["subscriber"]).choices = choices
        self.fields["subscriber"].widget.attrs.update({"data-role": "subscriber"})
        kind = (self.data.get("subscriber") if self.is_bound else None) or self.initial.get("subscriber") \
            or self.instance.subscriber or (choices[0][0] if choices else "")
        self.subscriber_cls: type[Subscriber] | None = SUBSCRIBERS.find(kind)
        if not self.is_bound:
            self.initial["subscriber"] = kind
        self.subscriber_field_names: list[str] = []
        editing = self.instance.pk is not None and self.instance.subscriber == kind
        if self.subscriber_cls is not None:
            for name, field in self.subscriber_cls.secure_form_fields(editing=editing).items():
                self.fields[name] = field
                self.subscriber_field_names.append(name)
        if self.instance.pk and not self.is_bound:
            query = dict(self.instance.query or {})
            if self.subscriber_cls is not None:
                for key, value in self.subscriber_cls.initial(self.instance.config or {}, path=self.instance.path or {},
                                                              query=query).items():
                    self.initial.setdefault(key, value)
            self.initial.setdefault("other_query", query)
            self.initial.setdefault("path_text", dict(self.instance.path or {}))
        self.fields["http_client"].label = "HTTP Client"
        if not self.instance.pk and not self.is_bound:
            if self.subscriber_cls is not None:
                self.initial.setdefault("incremental", self.subscriber_cls.incremental_by_default)
            preselect_only_choice(self.fields["http_client"], self.initial, "http_client")

    @property
    def subscriber_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.subscriber_field_names]

    @property
    def subscriber_context(self) -> dict[str, Any]:
        return self.subscriber_cls.form_context(self) if self.subscriber_cls else {}

    @property
    def entity_value(self) -> str:
        if "entity" not in self.fields:
            return ""
        return str((self.data.get("entity") if self.is_bound else self.initial.get("entity")) or "")

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
        cleaned = self.cleaned_data
        if self.subscriber_cls is None:
            self.add_error("subscriber", "Choose a subscriber.")
            return cleaned
        path: dict[str, Any] = dict(cleaned.get("path_text") or {})
        query: dict[str, Any] = dict(cleaned.get("other_query") or {})
        own = {name: cleaned.get(name) for name in self.subscriber_field_names}
        if self.instance.pk and self.instance.subscriber == self.subscriber_cls.kind:
            stored = self.instance.get_secrets()  # a secret left empty on edit keeps the stored value
            own.update({k: stored[k] for k in self.subscriber_cls.secret_fields if not own.get(k) and stored.get(k)})
        data = {**own, "path": path, "query": query,
                "http_client": cleaned.get("http_client"), "incremental": cleaned.get("incremental"),
                "pagination": cleaned.get("pagination"), "page_cap": cleaned.get("page_cap")}
        report_unknown(self, own, path, query, cleaned.get("task_label"), cleaned.get("task_key"))
        result, errors = self.subscriber_cls.clean(data)
        field_map = {"path": "path_text", "query": "other_query"}
        for name, messages in errors.items():
            target = field_map.get(name, name)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)
        plain, secrets = self.subscriber_cls.split_secrets(result.get("config", {}))
        if self.instance.subscriber != self.subscriber_cls.kind:
            self.instance.secrets = ""
        self.instance.subscriber = self.subscriber_cls.kind
        self.instance.config = plain
        self.instance.set_secrets(secrets, keep=self.subscriber_cls.secret_fields)
        self.instance.path = result.get("path", path)
        self.instance.query = result.get("query", query)
        return cleaned

    def unsaved_incoming(self) -> Incoming:
        """The Incoming as edited, for previews and samples (call after ``is_valid()``)."""
        incoming = self.instance
        for name in self.Meta.fields:
            if name in self.cleaned_data:
                setattr(incoming, name, self.cleaned_data[name])
        return incoming
