"""``${NAME}`` in configuration text: found, checked and resolved here, and only here.

Configurations store the reference, never the value: ``resolved(obj)`` gives an unsaved copy of a client,
Incoming, Outgoing, transformer or webhook with every ``${NAME}`` replaced by the variable's current value,
made when the object is used (a run, a publish, a lookup). Changing a variable therefore changes every user
at once. A resolved copy can never be saved (``refuse_saving_resolved``): that would write the values,
encrypted ones included, into the configuration.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.apps import apps
from django.db import models

from .models import NAME_PATTERN

__all__ = [
    "RESOLVED_FIELDS",
    "UnknownVariable",
    "Usage",
    "forget_bound_secrets",
    "has_reference",
    "names_in",
    "report_unknown",
    "resolve",
    "resolved",
    "secret_values",
    "unknown_names",
    "usages",
    "variable_values",
]

REFERENCE = re.compile(r"\$\{(" + NAME_PATTERN + r")\}")

# The configuration fields that may hold ``${NAME}`` (plus ``secrets`` of the models that have one).
RESOLVED_FIELDS: dict[str, tuple[str, ...]] = {
    "clients.HttpClient": ("config",),
    "connections.Incoming": ("config", "path", "query"),
    "connections.Outgoing": ("entity", "path", "query", "payload", "config"),
    "connections.Transformer": ("steps",),
    "webhooks.Webhook": ("parser_config", "validation", "config"),
}

M = TypeVar("M", bound=models.Model)


class UnknownVariable(ValueError):
    """A configuration refers to variables that do not exist."""

    def __init__(self, names: set[str] | list[str]) -> None:
        self.names = sorted(set(names))
        listed = ", ".join("${" + name + "}" for name in self.names)
        super().__init__(f"Unknown environment variable{'s' if len(self.names) > 1 else ''}: {listed}")


def _strings(value: Any) -> Iterator[str]:
    """Every string (keys too) inside a JSON value, walked without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    yield key
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def names_in(value: Any) -> set[str]:
    """The variable names ``value`` (text or JSON) refers to."""
    return {name for text in _strings(value) if "${" in text for name in REFERENCE.findall(text)}


def variable_values() -> dict[str, str]:
    """Every variable's current value, by name (read once per use: the table is small)."""
    from .models import Variable

    return {v.name: v.current_value for v in Variable.objects.all()}


def unknown_names(value: Any, known: Mapping[str, Any] | set[str] | None = None) -> list[str]:
    """Names ``value`` refers to that are not variables (``known``: the names that exist, default: the table's)."""
    wanted = names_in(value)
    if not wanted:
        return []
    if known is None:
        from .models import Variable

        known = set(Variable.objects.filter(name__in=wanted).values_list("name", flat=True))
    return sorted(wanted - set(known))


def resolve(value: Any, values: Mapping[str, str] | None = None) -> Any:
    """``value`` with every ``${NAME}`` replaced; raises ``UnknownVariable`` for a name that is not defined."""
    if not names_in(value):
        return value
    if values is None:
        values = variable_values()
    missing = names_in(value) - set(values)
    if missing:
        raise UnknownVariable(missing)

    def text(item: str) -> str:
        return REFERENCE.sub(lambda found: values[found.group(1)], item) if "${" in item else item

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return text(item)
        if isinstance(item, dict):
            return {text(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value)


def _secrets_of(obj: models.Model) -> dict[str, str] | None:
    getter = getattr(obj, "get_secrets", None)
    return getter() if callable(getter) else None


def resolved(obj: M, values: Mapping[str, str] | None = None) -> M:
    """``obj`` as it is used: an unsaved copy with its ``${NAME}`` references (and its HTTP client's) resolved.

    ``obj`` itself when it refers to no variable. Raises ``UnknownVariable`` when a variable is gone.
    """
    fields = RESOLVED_FIELDS.get(obj._meta.label, ())
    secrets = _secrets_of(obj)
    changed: dict[str, Any] = {}
    for name in fields:
        current = getattr(obj, name)
        if names_in(current):
            if values is None:
                values = variable_values()
            changed[name] = resolve(current, values)
    if secrets and names_in(secrets):
        if values is None:
            values = variable_values()
        changed["secrets"] = json.dumps(resolve(secrets, values))
    client = None
    if getattr(obj, "http_client_id", None) is not None:
        original_client = obj.http_client  # type: ignore[attr-defined]
        client = resolved(original_client, values)
        if client is original_client:
            client = None
    if not changed and client is None:
        return obj
    clone = copy.copy(obj)
    clone._state = copy.copy(obj._state)
    clone._state.fields_cache = dict(obj._state.fields_cache)
    for name, value in changed.items():
        setattr(clone, name, value)
    if client is not None:
        clone.http_client = client  # type: ignore[attr-defined]
    clone._variables_resolved = frozenset(changed)  # type: ignore[attr-defined]
    return clone


def refuse_saving_resolved(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """``pre_save``: a resolved copy holds variable values (maybe secret ones) that must never be written, not
    even by a save of other fields (the version history copies every field of what is saved)."""
    if getattr(instance, "_variables_resolved", None) is None:
        return
    raise RuntimeError(f"{sender.__name__} {instance.pk}: a copy with resolved variables cannot be saved")


def has_reference(value: Any) -> bool:
    """Whether ``value`` refers to a variable: connectors accept such a value where they check a shape (a URL, a
    GUID), since its value is only known when it is used; the platform's form checks the value it resolves to."""
    return bool(names_in(value))


def report_unknown(form: Any, *values: Any) -> bool:
    """Add a form error naming the ``${NAME}`` references in ``values`` (default: the cleaned data) that are not
    variables: an unknown variable is refused on save, not found out at run time. True when there were some."""
    unknown = unknown_names(list(values) if values else dict(getattr(form, "cleaned_data", {})))
    if unknown:
        form.add_error(None, f"{UnknownVariable(unknown)}. Create it under Settings → Environment variables first.")
    return bool(unknown)


def forget_bound_secrets(name: str) -> list[str]:
    """A variable's value changed: clients whose secrets are bound to a field that uses it (an Exact client's
    Base URI, Client ID) lose their secrets and grant, as when that field is edited: a stored secret is never
    sent to a new address. Returns the names of those clients."""
    from clients.models import HttpClient
    from clients.registry import CLIENT_TYPES

    forgotten = []
    for client in HttpClient.objects.all():
        ctype = CLIENT_TYPES.find(client.kind)
        bound = getattr(ctype, "bound_to", ())
        if not any(name in names_in((client.config or {}).get(key)) for key in bound):
            continue
        if client.secrets or client.grant_or_none is not None:
            client.forget_grant(getattr(ctype, "rebound_message", "Grant access again."))
            client.secrets = ""
            client.save()
            forgotten.append(client.name)
    return forgotten


def secret_values() -> list[str]:
    """The values of the encrypted variables: masked wherever text is redacted (request logs)."""
    from .models import Variable

    return [v.secret for v in Variable.objects.filter(encrypted=True).exclude(secret="")]


@dataclass(frozen=True)
class Usage:
    """One configuration that refers to a variable."""

    kind: str  # the model's verbose name
    name: str
    url: str


def usages() -> dict[str, list[Usage]]:
    """Variable name -> the configurations that refer to it (the Environment variables page lists them)."""
    found: dict[str, list[Usage]] = {}
    for label, fields in RESOLVED_FIELDS.items():
        model = apps.get_model(label)
        for obj in model.objects.all():
            names = set().union(*(names_in(getattr(obj, f)) for f in fields))
            secrets = _secrets_of(obj)
            if secrets:
                names |= names_in(secrets)
            url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
            for name in names:
                found.setdefault(name, []).append(Usage(str(model._meta.verbose_name), str(obj), url))
    return found
