"""The Outgoing form: labels as the docs name them; entity choices depend on the action (htmx)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from pydantic import ValidationError

from configuration.variables import report_unknown
from lib.form_defaults import preselect_only_choice

from ..models import Outgoing
from ..publishers import PUBLISHERS, Publisher
from .fields import JSONObjectField, KeyValueField, SearchableChoiceField

__all__ = ["OutgoingForm"]


class OutgoingForm(forms.ModelForm):
    publisher = forms.ChoiceField(label="Publisher")
    entity = SearchableChoiceField(label="Entity", list_id="outgoing-entity-options",
                                   placeholder="Search by name or endpoint, e.g. Accounts",
                                   help_text="Search by name or endpoint; only entities that support the chosen "
                                             "action are offered.")
    path = KeyValueField(label="Path", help_text="Path parameters, one key=value per line, e.g. division=123456. "
                                                 "A task's own path keys are merged over these.")
    query = KeyValueField(label="Query", help_text="Query parameters, one key=value per line (used by Get).")
    payload = JSONObjectField(label="Payload", help_text="Static payload; each task's payload is merged over it.")
    reference_field = forms.ChoiceField(
        label="Reference field", required=False,
        help_text="Where creates write their idempotency reference, so a lost answer is looked up instead of "
                  "sent again. By default it stays on our side and nothing in the record is touched; an Upsert "
                  "finds its record by the upsert key. A field chosen here is overwritten in every created record.",
    )
    reference_overwrite = forms.BooleanField(
        label="Overwrite the reference field", required=False,
        help_text="I understand that the field above gets a generated reference in every record this Outgoing "
                  "creates, replacing what people keep there.",
    )
    payload_from_tasks = forms.BooleanField(
        label="Tasks supply the payload", required=False, initial=True,
        help_text="Each task's data is merged over the static payload, so the static one may be partial. "
                  "Untick to require a complete static payload (all mandatory properties).",
    )
    upsert_key = forms.ChoiceField(label="Upsert key", required=False,
                                   help_text="Upsert: find an existing record by this property.")

    class Meta:
        model = Outgoing
        fields = ["name", "publisher", "action", "entity", "path", "query", "payload", "transformer", "http_client"]
        labels = {"http_client": "HTTP Client", "transformer": "Transformer", "action": "Action", "name": "Name"}
        help_texts = {"transformer": "Optional: applied to each task's data just before publishing."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["publisher"]).choices = PUBLISHERS.choices()
        action = self._current("action") or Outgoing.Action.CREATE
        entity = self._current("entity") or ""
        kind = self._current("publisher") or PUBLISHERS.first_kind()
        cls = PUBLISHERS.find(kind)
        publisher: Publisher | None = cls() if cls is not None else None
        self.publisher_plugin = publisher
        if publisher is not None:
            cast(forms.ChoiceField, self.fields["action"]).choices = [
                (value, label) for value, label in publisher.actions() if value in Outgoing.Action.values]
            self.fields["entity"].label = publisher.entity_label
        if publisher is not None and publisher.free_entity:
            self.fields["entity"] = forms.CharField(label=publisher.entity_label, max_length=200,
                                                    help_text=publisher.description or "")
        else:
            entities = publisher.entity_choices(action) if publisher else []
            cast(forms.ChoiceField, self.fields["entity"]).choices = entities
            entity = cast(SearchableChoiceField, self.fields["entity"]).to_python(entity)  # as typed: "accounts"
        refs = publisher.reference_field_choices(entity) if publisher and entity else []
        cast(forms.ChoiceField, self.fields["reference_field"]).choices = [
            ("", "— keep it on our side (nothing written) —"), *refs]
        keys = publisher.key_field_choices(entity) if publisher and entity else []
        cast(forms.ChoiceField, self.fields["upsert_key"]).choices = [("", "— none —"), *keys]
        if publisher is None or publisher.free_entity:
            for name in ("reference_field", "reference_overwrite", "upsert_key"):  # catalog publishers' helpers
                del self.fields[name]
        self.publisher_field_names: list[str] = []
        editing = self.instance.pk is not None and self.instance.publisher == kind
        if publisher is not None:
            for name, field in publisher.secure_form_fields(editing=editing).items():
                self.fields[name] = field
                self.publisher_field_names.append(name)
        if self.instance.pk:
            for name in ("reference_field", "upsert_key", "payload_from_tasks", *self.publisher_field_names):
                if name in self.instance.config and publisher is not None and name not in publisher.secret_fields:
                    self.initial.setdefault(name, self.instance.config[name])
            self.initial.setdefault("reference_overwrite", bool(self.instance.config.get("reference_overwrite")))
        elif publisher and entity and "reference_field" not in self.data and "reference_field" in self.fields:
            self.initial["reference_field"] = publisher.default_reference_field(entity)
        self.entity_template = publisher.entity_template if publisher else None
        self.entity_context = publisher.entity_context(entity, action) if publisher and entity else {}
        for name in ("action", "publisher", "entity"):
            self.fields[name].widget.attrs["data-dependent"] = "true"
        if not self.instance.pk and not self.is_bound:
            preselect_only_choice(self.fields["http_client"], self.initial, "http_client")

    @property
    def publisher_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.publisher_field_names]

    def _current(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(name) or "")
        value = self.initial.get(name) or getattr(self.instance, name, "")
        return str(value or "")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        publisher = self.publisher_plugin
        if publisher is None or publisher.kind != data["publisher"]:
            self.add_error("publisher", "Unknown publisher.")
            return data
        own = {name: data.get(name) for name in self.publisher_field_names}
        report_unknown(self, own, data.get("entity"), data.get("path"), data.get("query"), data.get("payload"))
        if self.instance.pk and self.instance.publisher == publisher.kind:
            stored = self.instance.get_secrets()  # a secret left empty on edit keeps the stored value
            own.update({k: stored[k] for k in publisher.secret_fields if not own.get(k) and stored.get(k)})
        try:
            own = publisher.validate_config(own)
        except ValidationError as exc:
            for error in exc.errors():
                where = str(error["loc"][0]) if error.get("loc") else ""
                self.add_error(where if where in self.fields else None, error["msg"])
            return data
        config = {"reference_field": data.get("reference_field") or "", "upsert_key": data.get("upsert_key") or "",
                  "payload_from_tasks": bool(data.get("payload_from_tasks")),
                  "reference_overwrite": bool(data.get("reference_field") and data.get("reference_overwrite")), **own}
        problems = publisher.validate(
            action=data["action"], entity=data["entity"], path=data.get("path") or {},
            query=data.get("query") or {}, payload=data.get("payload") or {}, config=config,
        )
        for field, messages in problems.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)
        self.cleaned_config, self.cleaned_secrets = publisher.split_secrets(config)
        return data

    def save(self, commit: bool = True) -> Outgoing:
        outgoing: Outgoing = super().save(commit=False)
        keep = self.publisher_plugin.secret_fields if self.publisher_plugin else ()
        outgoing.config = {**(outgoing.config or {}), **getattr(self, "cleaned_config", {})}
        outgoing.set_secrets(getattr(self, "cleaned_secrets", {}), keep=keep)
        if commit:
            outgoing.save()
        return outgoing
