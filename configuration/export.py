"""Export: configurations as one document (``export_config``) or one file per object (``write_directory``).

Every object is written by the same function the import compares with (``dump_*``), so an object that did
not change between an export and an import is reported unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, Storage, Transformer
from webhooks.models import Webhook

from .documents import SCHEMA, SECTIONS, VERSION, dump_document
from .models import Variable
from .variables import names_in

__all__ = ["LOCAL_CONFIG_KEYS", "Selection", "dump_object", "export_config", "read_directory", "write_directory"]

JSON = dict[str, Any]
# section -> the keys (client key, or name) of the objects wanted; what they use comes along.
Selection = Mapping[str, Iterable[str]]
# Config keys that belong to one installation (an Outgoing's idempotency salt): never exported or compared.
LOCAL_CONFIG_KEYS = frozenset({"reference_salt"})
CLIENT_REF = "http_client"  # a JSON key holding an HTTP client's id (lookup steps, a connector's webhook)


def _client_refs_to_keys(value: Any, keys: Mapping[int, str]) -> Any:
    """JSON with every ``"http_client": <id>`` replaced by the client's stable key."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == CLIENT_REF and (isinstance(v, int) or (isinstance(v, str) and v.isdigit())) and int(v) in keys:
                out[k] = keys[int(v)]
            else:
                out[k] = _client_refs_to_keys(v, keys)
        return out
    if isinstance(value, list):
        return [_client_refs_to_keys(v, keys) for v in value]
    return value


def _client_ids(value: Any) -> set[int]:
    found: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if k == CLIENT_REF and (isinstance(v, int) or (isinstance(v, str) and v.isdigit())):
                    found.add(int(v))
                else:
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _store_names(steps: Any) -> set[str]:
    """Storages a chain names (``store`` parameters, nested chains included)."""
    found: set[str] = set()
    stack = [steps]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            store = item.get("store")
            if isinstance(store, str) and store:
                found.add(store)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _secret_names(obj: Any) -> list[str]:
    return sorted(k for k, v in obj.get_secrets().items() if v)


def dump_object(obj: models.Model, client_keys: Mapping[int, str] | None = None) -> JSON:
    """One object as it appears in a document (ids replaced by keys, secrets by their names)."""
    if client_keys is None:
        client_keys = dict(HttpClient.objects.values_list("pk", "key"))

    def client(pk: int | None) -> str | None:
        return client_keys.get(pk) if pk is not None else None

    if isinstance(obj, Variable):
        return {"name": obj.name, "description": obj.description, "encrypted": obj.encrypted}
    if isinstance(obj, HttpClient):
        return {"key": obj.key, "name": obj.name, "kind": obj.kind, "log_requests": obj.log_requests,
                "config": _client_refs_to_keys(obj.config or {}, client_keys), "secrets": _secret_names(obj),
                "granted": obj.status == HttpClient.Status.GRANTED}
    if isinstance(obj, Storage):
        return {"name": obj.name, "description": obj.description, "ttl_seconds": obj.ttl_seconds}
    if isinstance(obj, Transformer):
        return {"name": obj.name, "description": obj.description,
                "steps": _client_refs_to_keys(obj.steps or [], client_keys)}
    if isinstance(obj, Incoming):
        return {"name": obj.name, "subscriber": obj.subscriber, "http_client": client(obj.http_client_id),
                "transformer": obj.transformer.name if obj.transformer else None,
                "config": obj.config or {}, "path": obj.path or {}, "query": obj.query or {},
                "pagination": obj.pagination, "page_cap": obj.page_cap, "incremental": obj.incremental,
                "task_label": obj.task_label, "task_key": obj.task_key, "enabled": obj.enabled,
                "secrets": _secret_names(obj)}
    if isinstance(obj, Outgoing):
        config = {k: v for k, v in (obj.config or {}).items() if k not in LOCAL_CONFIG_KEYS}
        return {"name": obj.name, "publisher": obj.publisher, "action": obj.action, "entity": obj.entity,
                "http_client": client(obj.http_client_id),
                "transformer": obj.transformer.name if obj.transformer else None,
                "path": obj.path or {}, "query": obj.query or {}, "payload": obj.payload or {}, "config": config,
                "secrets": _secret_names(obj)}
    if isinstance(obj, Webhook):
        return {"name": obj.name, "kind": obj.kind, "enabled": obj.enabled, "parser": obj.parser,
                "parser_config": obj.parser_config or {}, "validation": obj.validation or {},
                "config": _client_refs_to_keys(obj.config or {}, client_keys), "dedup_header": obj.dedup_header,
                "dedup_window_seconds": obj.dedup_window_seconds, "identifier_path": obj.identifier_path,
                "sample": obj.sample, "secrets": _secret_names(obj)}
    if isinstance(obj, Route):
        return {"name": obj.name, "incoming": obj.incoming.name if obj.incoming else None,
                "webhook": obj.webhook.name if obj.webhook else None,
                "transformers": [link.transformer.name for link in sorted(obj.links.all(),  # prefetched if it was
                                                                          key=lambda link: (link.position, link.pk))],
                "outgoing": obj.outgoing.name,
                "enabled": obj.enabled, "max_attempts": obj.max_attempts, "backoff_seconds": obj.backoff_seconds,
                "batch_size": obj.batch_size,
                "schedule": {"kind": obj.schedule_kind, "interval_seconds": obj.interval_seconds, "cron": obj.cron,
                             "timezone": obj.timezone}}
    raise TypeError(f"{type(obj).__name__} is not exported")


MODELS: dict[str, type[models.Model]] = {
    "variables": Variable, "clients": HttpClient, "storages": Storage, "transformers": Transformer,
    "incomings": Incoming, "outgoings": Outgoing, "webhooks": Webhook, "routes": Route,
}


def prefetched(section: str, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """``queryset`` with what ``dump_object`` reads of each object loaded along (one query per relation)."""
    if section in ("incomings", "outgoings"):
        return queryset.select_related("transformer")
    if section == "routes":
        return queryset.select_related("incoming", "webhook", "outgoing").prefetch_related("links__transformer")
    return queryset


def key_field(section: str) -> str:
    return "key" if section == "clients" else "name"


def _closure(selection: Selection) -> dict[str, set[str]]:
    """The selected objects and everything they use (a route brings its Incoming, transformers, clients...)."""
    wanted: dict[str, set[str]] = {section: set() for section in SECTIONS}
    for section, keys in selection.items():
        if section not in wanted:
            raise ValueError(f"Unknown section {section!r}: one of {', '.join(SECTIONS)}")
        wanted[section] |= {str(k) for k in keys}
    clients: set[int] = set()
    for route in Route.objects.filter(name__in=wanted["routes"]).select_related("incoming", "webhook", "outgoing"):
        if route.incoming:
            wanted["incomings"].add(route.incoming.name)
        if route.webhook:
            wanted["webhooks"].add(route.webhook.name)
        wanted["outgoings"].add(route.outgoing.name)
        wanted["transformers"] |= {t.name for t in route.ordered_transformers()}
    for model, section in ((Incoming, "incomings"), (Outgoing, "outgoings")):
        for obj in model.objects.filter(name__in=wanted[section]).select_related("transformer"):
            if obj.http_client_id:
                clients.add(obj.http_client_id)
            if obj.transformer:
                wanted["transformers"].add(obj.transformer.name)
    for hook in Webhook.objects.filter(name__in=wanted["webhooks"]):
        clients |= _client_ids(hook.config)
    for transformer in Transformer.objects.filter(name__in=wanted["transformers"]):
        clients |= _client_ids(transformer.steps)
        wanted["storages"] |= _store_names(transformer.steps) & set(Storage.objects.values_list("name", flat=True))
    wanted["clients"] |= set(HttpClient.objects.filter(pk__in=clients).values_list("key", flat=True))
    return wanted


def export_config(selection: Selection | None = None) -> JSON:
    """The configuration document of everything (``selection=None``) or of the selected objects and what they use.

    ``selection`` maps a section (``"routes"``, ``"transformers"``...) to the keys of its objects (a client's
    ``key``, every other object's ``name``). Variables are exported by name only, never their values.
    """
    client_keys = dict(HttpClient.objects.values_list("pk", "key"))
    wanted = None if selection is None else _closure(selection)
    document: JSON = {"schema": SCHEMA, "version": VERSION, "exported_at": timezone.now().isoformat(timespec="seconds")}
    used_variables: set[str] = set()
    for section in SECTIONS[1:]:
        queryset = prefetched(section, MODELS[section]._default_manager.all())
        if wanted is not None:
            queryset = queryset.filter(**{f"{key_field(section)}__in": wanted[section]})
        objects = [dump_object(obj, client_keys) for obj in queryset.order_by(key_field(section))]
        document[section] = objects
        used_variables |= names_in(objects)
        for obj in queryset:
            getter = getattr(obj, "get_secrets", None)
            if getter is not None:
                used_variables |= names_in(getter())
    variables = Variable.objects.order_by("name")
    if wanted is not None:
        variables = variables.filter(name__in=used_variables | wanted["variables"])
    document["variables"] = [dump_object(v) for v in variables]
    return {key: document[key] for key in ("schema", "version", "exported_at", *SECTIONS)}


def _file_name(obj: JSON) -> str:
    """A file name per object, stable across exports: the key itself, or its slug and a short hash of it."""
    key = str(obj.get("key") or obj.get("name"))
    slug = slugify(key)
    return key if slug == key else f"{slug or 'item'}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def write_directory(document: JSON, directory: Path, fmt: str = "yaml") -> list[Path]:
    """One file per object (``clients/exact-online-sandbox.yaml``...) plus ``document.yaml`` (schema, version).

    Written for Git: stable names and content, one object per file; files of objects no longer exported are
    removed from the section folders, so a commit shows deletions too.
    """
    suffix = "yaml" if fmt == "yaml" else "json"
    written: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    head = directory / f"document.{suffix}"
    head.write_text(dump_document({"schema": document["schema"], "version": document["version"]}, fmt),
                    encoding="utf-8")
    written.append(head)
    for section in SECTIONS:
        folder = directory / section
        folder.mkdir(exist_ok=True)
        names = set()
        for obj in document.get(section, []):
            path = folder / f"{_file_name(obj)}.{suffix}"
            names.add(path.name)
            path.write_text(dump_document(obj, fmt), encoding="utf-8")
            written.append(path)
        for stale in folder.glob(f"*.{suffix}"):
            if stale.name not in names:
                stale.unlink()
    return written


def read_directory(directory: Path) -> str:
    """The files ``write_directory`` wrote, put back together as one JSON text (``read_document`` checks it)."""
    import json

    import yaml

    from .documents import DocumentError

    heads = [p for p in (directory / "document.yaml", directory / "document.json") if p.is_file()]
    if not heads:
        raise DocumentError(f"{directory} holds no document.yaml or document.json.")

    def load(path: Path) -> Any:
        text = path.read_text(encoding="utf-8")
        try:
            return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise DocumentError(f"{path.relative_to(directory)}: not valid {path.suffix[1:].upper()}: {exc}") from None

    document = load(heads[0])
    if not isinstance(document, dict):
        raise DocumentError(f"{heads[0].name} is not an object with a schema and a version.")
    for section in SECTIONS:
        folder = directory / section
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.json")]) if folder.is_dir() else []
        document[section] = [load(path) for path in files]
    return json.dumps(document, default=str)
