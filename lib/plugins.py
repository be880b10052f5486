"""The one plugin contract every connector implements, and the one registry type that holds plugins.

A connector (``exact_online``, ``http_connector``, a test's throwaway one) contributes plugins of four
sorts: client types, subscribers, publishers and lookup providers. Each is a class with

- ``kind``: the key stored on the platform's rows (``HttpClient.kind``, ``Incoming.subscriber``...);
- ``label`` (and an optional ``description``) shown in pickers;
- ``Config``: a pydantic model, the typed schema of the opaque JSON the platform stores for it;
- ``secret_fields``: the config keys that are secrets: the platform keeps them encrypted at rest, apart
  from the plain config, renders them write-only (an empty value keeps the stored one) and masks them;
- ``form_fields()``: the form fields it contributes to the platform's form.

A ``Registry`` maps kinds to plugin *classes*; ``get`` raises ``LookupError`` for an unknown kind and
``find`` returns ``None``. Connectors register in their ``AppConfig.ready()``; the platform never imports
a connector.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from django import forms
from pydantic import BaseModel, ConfigDict

__all__ = [
    "MASK",
    "EmptyConfig",
    "Plugin",
    "Registry",
    "secret_widget",
]

MASK = "••••••"


class EmptyConfig(BaseModel):
    """The config of a plugin that has none: unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Plugin:
    """Base of every plugin: key, label, typed config, secret fields, contributed form fields."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    secret_fields: ClassVar[tuple[str, ...]] = ()
    do_not_call_in_templates: ClassVar[bool] = True  # templates read attributes, never instantiate

    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        """Fields this plugin adds to the platform's form; their cleaned values become its config."""
        return {}

    @classmethod
    def validate_config(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked against ``Config`` (raises ``pydantic.ValidationError``), as JSON-ready data."""
        return cls.Config.model_validate(dict(values)).model_dump(mode="json")

    @classmethod
    def split_secrets(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(plain config, secrets): what goes in the JSON column and what is encrypted."""
        plain = {k: v for k, v in values.items() if k not in cls.secret_fields}
        secret = {k: "" if values.get(k) is None else str(values.get(k)) for k in cls.secret_fields}
        return plain, secret

    @classmethod
    def masked(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` safe to show or log: secret values replaced by a mask."""
        return {k: (MASK if k in cls.secret_fields and v else v) for k, v in config.items()}

    @classmethod
    def secure_form_fields(cls, *, editing: bool) -> dict[str, forms.Field]:
        """``form_fields()`` with every secret write-only: never rendered back; empty on edit keeps it."""
        fields = cls.form_fields()
        for name in cls.secret_fields:
            field = fields.get(name)
            if field is None:
                continue
            field.widget = secret_widget()
            if editing:
                field.required = False
                field.widget.attrs["placeholder"] = f"{MASK} (stored; leave empty to keep)"
                field.help_text = "Leave empty to keep the stored value. " + str(field.help_text or "")
        return fields


P = TypeVar("P", bound=Plugin)


class Registry(Generic[P]):
    """Kinds to plugin classes for one sort of plugin (``what`` names the sort in error messages)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._plugins: dict[str, type[P]] = {}

    def register(self, cls: type[P]) -> type[P]:
        """Register a plugin class (usable as a decorator); re-registering a kind replaces it."""
        if not cls.kind or not cls.label:
            raise ValueError(f"{cls.__name__} needs a kind and a label to be registered as a {self.what}")
        self._plugins[cls.kind] = cls
        return cls

    def unregister(self, kind: str) -> None:
        self._plugins.pop(kind, None)

    def get(self, kind: str) -> type[P]:
        try:
            return self._plugins[kind]
        except KeyError:
            raise LookupError(f"No {self.what} {kind!r} is installed") from None

    def find(self, kind: str | None) -> type[P] | None:
        return self._plugins.get(kind or "")

    def __contains__(self, kind: object) -> bool:
        return kind in self._plugins

    def __iter__(self) -> Iterator[type[P]]:
        return iter(self.all())

    def all(self) -> list[type[P]]:
        return sorted(self._plugins.values(), key=lambda cls: (cls.label.lower(), cls.kind))

    def choices(self) -> list[tuple[str, str]]:
        return [(cls.kind, cls.label) for cls in self.all()]

    def first_kind(self) -> str:
        plugins = self.all()
        return plugins[0].kind if plugins else ""


def secret_widget() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
