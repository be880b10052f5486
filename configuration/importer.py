"""Import: plan what a document would change (``plan_import``: the dry run), then apply it (``apply_import``).

The plan lists, per object, ``create`` / ``update`` (with the changed fields) / ``unchanged`` / ``conflict``
(the target's object with that key is of another kind) / ``invalid`` (its plugin is not installed, its config
or chain does not validate); what is ``missing`` (a variable or an object it refers to that neither the
document nor the target has); and what must be entered on the target afterwards (secrets, grants). Applying
re-plans inside one transaction and writes all of it or nothing; an object that is unchanged is not touched,
so importing the same document twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import models, transaction
from pydantic import ValidationError

from clients.models import HttpClient
from clients.registry import CLIENT_TYPES
from connections.models import Incoming, Outgoing, Route, Storage, Transformer
from connections.publishers import PUBLISHERS
from connections.subscribers import SUBSCRIBERS
from connections.transformers import validate_chain
from webhooks.kinds import get_kind
from webhooks.models import Webhook

from .documents import INFORMATIONAL, SECTIONS, ConfigDocument, DocumentError, read_document, validate_document
from .export import CLIENT_REF, LOCAL_CONFIG_KEYS, MODELS, dump_object, key_field, prefetched
from .models import Variable
from .variables import names_in, resolve

__all__ = ["FieldChange", "ImportPlan", "ImportRefused", "ObjectPlan", "apply_import", "plan_import"]

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
CONFLICT, INVALID, MISSING = "conflict", "invalid", "missing"
SINGULAR = {"variables": "variable", "clients": "client", "storages": "storage", "transformers": "transformer",
            "incomings": "Incoming", "outgoings": "Outgoing", "webhooks": "webhook", "routes": "route"}


@dataclass
class FieldChange:
    """One changed value: ``path`` into the object (``steps[1].params.expression``), before and after."""

    path: str
    old: Any
    new: Any


@dataclass
class ObjectPlan:
    """What the import does with one object of the document."""

    section: str
    key: str
    action: str
    changes: list[FieldChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{SINGULAR[self.section]} “{self.key}”"

    @property
    def what(self) -> str:
        return SINGULAR[self.section][:1].upper() + SINGULAR[self.section][1:]


@dataclass
class ImportPlan:
    """The dry run of an import; ``ok``: it can be applied (no error, nothing missing, in conflict or invalid)."""

    document: ConfigDocument | None
    objects: list[ObjectPlan] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    to_enter: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return (self.document is not None and not self.errors and not self.missing
                and all(o.action in (CREATE, UPDATE, UNCHANGED) for o in self.objects))

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATE, UPDATE, UNCHANGED, CONFLICT, INVALID, MISSING), 0)
        for obj in self.objects:
            counts[obj.action] += 1
        return counts

    @property
    def changes_anything(self) -> bool:
        return any(o.action in (CREATE, UPDATE) for o in self.objects)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the REST API and ``import_config --json`` answer with it)."""
        return {"ok": self.ok, "applied": self.applied, "counts": self.counts, "errors": self.errors,
                "missing": self.missing, "to_enter": self.to_enter,
                "objects": [asdict(o) for o in self.objects]}


class ImportRefused(Exception):
    """``apply_import`` found the plan cannot be applied: nothing was written; ``plan`` says why."""

    def __init__(self, plan: ImportPlan) -> None:
        self.plan = plan
        reasons = [*plan.errors, *plan.missing,
                   *(f"{o.label}: {'; '.join(o.problems) or o.action}" for o in plan.objects
                     if o.action in (CONFLICT, INVALID, MISSING))]
        super().__init__("Nothing imported: " + "; ".join(reasons[:5]) + (" …" if len(reasons) > 5 else ""))


# --- comparing ------------------------------------------------------------------------------------

def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(FieldChange(where, None, new[key]))
            elif key not in new:
                out.append(FieldChange(where, old[key], None))
            else:
                _diff(old[key], new[key], where, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{index}]", out)
    elif old != new or type(old) is not type(new):
        out.append(FieldChange(path, old, new))


def _comparable(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in INFORMATIONAL}


# --- planning -------------------------------------------------------------------------------------

class _Planner:
    def __init__(self, document: ConfigDocument) -> None:
        self.document = document
        self.plan = ImportPlan(document)
        self.values = {v.name: v.current_value for v in Variable.objects.all()}
        self.in_doc = {section: {obj.ref for obj in document.section(section)} for section in SECTIONS}
        self.on_target = {section: set(MODELS[section]._default_manager.values_list(key_field(section), flat=True))
                          for section in SECTIONS}
        self.client_keys = dict(HttpClient.objects.values_list("pk", "key"))
        self.current: dict[str, dict[str, models.Model]] = {}  # section -> key -> the target's object, loaded once
        self.lacking: set[int] = set()  # id() of the objects that refer to something missing

    def existing(self, section: str, ref: str) -> Any:
        if section not in self.current:
            wanted = [obj.ref for obj in self.document.section(section)]
            queryset = prefetched(section, MODELS[section]._default_manager.filter(
                **{f"{key_field(section)}__in": wanted}))
            self.current[section] = {getattr(obj, key_field(section)): obj for obj in queryset}
        return self.current[section].get(ref)

    def exists(self, section: str, ref: str | None) -> bool:
        return ref is None or ref in self.in_doc[section] or ref in self.on_target[section]

    def need(self, obj: ObjectPlan, section: str, ref: str | None) -> None:
        if not self.exists(section, ref):
            text = f"{SINGULAR[section]} “{ref}” (used by {obj.label})"
            obj.problems.append(f"refers to {SINGULAR[section]} “{ref}”, which neither the document nor this "
                                "installation has")
            self.plan.missing.append(text)
            self.lacking.add(id(obj))

    def run(self) -> ImportPlan:
        for section in SECTIONS:
            for doc in self.document.section(section):
                self.plan.objects.append(self.object(section, doc))
        for obj in self.plan.objects:
            if obj.problems and obj.action in (CREATE, UPDATE, UNCHANGED):
                obj.action = MISSING if id(obj) in self.lacking else INVALID
        return self.plan

    def object(self, section: str, doc: Any) -> ObjectPlan:
        data = doc.model_dump(mode="json")
        obj = ObjectPlan(section, doc.ref, CREATE)
        if section == "variables":
            obj.action = UNCHANGED if doc.name in self.values else MISSING
            if obj.action == MISSING:
                obj.problems.append("not defined here: create it under Settings → Environment variables first")
                self.plan.missing.append(f"variable ${{{doc.name}}}")
            return obj
        unknown = sorted(names_in(_comparable(data)) - set(self.values))
        for name in unknown:
            obj.problems.append(f"uses ${{{name}}}, which is not defined here")
            self.plan.missing.append(f"variable ${{{name}}} (used by {obj.label})")
            self.lacking.add(id(obj))
        getattr(self, f"check_{section}")(obj, doc)
        existing = self.existing(section, doc.ref)
        if existing is not None:
            current = dump_object(existing, self.client_keys)
            kind_field = {"clients": "kind", "incomings": "subscriber", "outgoings": "publisher", "webhooks": "kind"}
            kind = kind_field.get(section)
            if kind and current[kind] != data[kind]:
                obj.action = CONFLICT
                obj.problems.append(f"this installation's {SINGULAR[section]} “{doc.ref}” is of kind "
                                    f"{current[kind]!r}, the document's of kind {data[kind]!r}: rename or delete one")
                return obj
            _diff(_comparable(current), _comparable(data), "", obj.changes)
            obj.action = UPDATE if obj.changes else UNCHANGED
        self.secrets_to_enter(obj, section, doc, existing)
        return obj

    def secrets_to_enter(self, obj: ObjectPlan, section: str, doc: Any, existing: models.Model | None) -> None:
        wanted = list(getattr(doc, "secrets", []) or [])
        have = existing.get_secrets() if existing is not None and hasattr(existing, "get_secrets") else {}
        lacking = [name for name in wanted if not have.get(name)]
        if lacking:
            self.plan.to_enter.append(f"{obj.label}: enter {', '.join(lacking)}")
        if section == "clients" and doc.granted and not (
                existing is not None and existing.status == HttpClient.Status.GRANTED):  # type: ignore[attr-defined]
            self.plan.to_enter.append(f"{obj.label}: grant access")
        if section == "webhooks" and existing is None:
            self.plan.to_enter.append(f"{obj.label}: a new URL; give it to the sending system")

    def _plugin_config(self, obj: ObjectPlan, plugin: Any, what: str, config: Mapping[str, Any]) -> None:
        if plugin is None:
            obj.problems.append(f"{what} is not installed here")
            return
        fields = getattr(plugin.Config, "model_fields", {})
        try:
            plain = resolve({k: v for k, v in config.items() if k in fields}, self.values)
            plugin.Config.model_validate(plain)
        except ValueError as exc:  # pydantic's ValidationError and UnknownVariable (reported already) alike
            if not names_in(config) - set(self.values):
                obj.problems.append(f"its settings are not valid: {_first_line(exc)}")

    def check_clients(self, obj: ObjectPlan, doc: Any) -> None:
        self._plugin_config(obj, CLIENT_TYPES.find(doc.kind), f"the client type {doc.kind!r}", doc.config)

    def check_storages(self, obj: ObjectPlan, doc: Any) -> None:
        pass

    def check_transformers(self, obj: ObjectPlan, doc: Any) -> None:
        for key in _client_keys_in(doc.steps):
            self.need(obj, "clients", key)
        try:
            steps = resolve(doc.steps, self.values)
        except ValueError:
            return
        errors = validate_chain(steps)
        if errors:
            obj.problems.append("its chain is not valid: " + "; ".join(str(e) for e in errors[:3]))

    def check_incomings(self, obj: ObjectPlan, doc: Any) -> None:
        self.need(obj, "clients", doc.http_client)
        self.need(obj, "transformers", doc.transformer)
        self._plugin_config(obj, SUBSCRIBERS.find(doc.subscriber), f"the subscriber {doc.subscriber!r}", doc.config)

    def check_outgoings(self, obj: ObjectPlan, doc: Any) -> None:
        self.need(obj, "clients", doc.http_client)
        self.need(obj, "transformers", doc.transformer)
        if doc.action not in Outgoing.Action.values:
            obj.problems.append(f"the action {doc.action!r} is not one of {', '.join(Outgoing.Action.values)}")
        publisher = PUBLISHERS.find(doc.publisher)
        before = len(obj.problems)
        self._plugin_config(obj, publisher, f"the publisher {doc.publisher!r}", doc.config)
        if publisher is None or len(obj.problems) > before:
            return
        try:  # the same check the Outgoing form makes (an upsert key, a confirmed reference overwrite, …)
            parts = resolve({"entity": doc.entity, "path": doc.path, "query": doc.query, "payload": doc.payload,
                             "config": doc.config}, self.values)
        except ValueError:  # an unknown variable: reported already
            return
        problems = publisher().validate(action=doc.action, **parts)
        for where, messages in problems.items():
            obj.problems.extend(f"{where}: {message}" for message in messages)

    def check_webhooks(self, obj: ObjectPlan, doc: Any) -> None:
        if get_kind(doc.kind) is None:
            obj.problems.append(f"the webhook kind {doc.kind!r} is not installed here")
        if doc.parser not in Webhook.Parser.values:
            obj.problems.append(f"the parser {doc.parser!r} is not one of {', '.join(Webhook.Parser.values)}")
        for key in _client_keys_in(doc.config):
            self.need(obj, "clients", key)

    def check_routes(self, obj: ObjectPlan, doc: Any) -> None:
        self.need(obj, "incomings", doc.incoming)
        self.need(obj, "webhooks", doc.webhook)
        self.need(obj, "outgoings", doc.outgoing)
        for name in doc.transformers:
            self.need(obj, "transformers", name)
        if doc.incoming is None and doc.webhook is None:
            obj.problems.append("has neither an Incoming nor a webhook")
        if doc.schedule.kind not in Route.ScheduleKind.values:
            obj.problems.append(f"the schedule kind {doc.schedule.kind!r} is not one of "
                                f"{', '.join(Route.ScheduleKind.values)}")
        elif doc.schedule.kind == Route.ScheduleKind.CRON and len(doc.schedule.cron.split()) != 5:
            obj.problems.append(f"the cron {doc.schedule.cron!r} does not have five fields")


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"[:300]
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _client_keys_in(value: Any) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if k == CLIENT_REF and isinstance(v, str) and v and not v.isdigit():
                    found.add(v)
                else:
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _client_keys_to_ids(value: Any, ids: Mapping[str, int]) -> Any:
    if isinstance(value, dict):
        return {k: (ids[v] if k == CLIENT_REF and isinstance(v, str) and v in ids else _client_keys_to_ids(v, ids))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_client_keys_to_ids(v, ids) for v in value]
    return value


def plan_import(document: ConfigDocument | Mapping[str, Any] | str | bytes) -> ImportPlan:
    """The dry run: what importing ``document`` (validated, parsed, or text) would do. Writes nothing.

    A document that cannot be read gives a plan with ``errors`` (and ``document=None``); it never raises.
    """
    try:
        if isinstance(document, str | bytes):
            document = read_document(document)
        elif not isinstance(document, ConfigDocument):
            document = validate_document(dict(document))
    except DocumentError as exc:
        return ImportPlan(None, errors=[str(exc)])
    return _Planner(document).run()


# --- applying -------------------------------------------------------------------------------------

def _write(section: str, doc: Any, existing: Any, client_ids: dict[str, int]) -> None:
    def by_name(model: type[models.Model], name: str | None) -> Any:
        return model._default_manager.get(name=name) if name else None

    if section == "clients":
        client = existing or HttpClient(key=doc.key, kind=doc.kind)
        ctype = CLIENT_TYPES.find(doc.kind)
        bound = getattr(ctype, "bound_to", ())
        rebound = existing is not None and any((existing.config or {}).get(k) != doc.config.get(k) for k in bound)
        client.name, client.log_requests = doc.name, doc.log_requests
        client.config = _client_keys_to_ids(doc.config, client_ids)
        if rebound:  # as the client form does: secrets and tokens belong to the old address
            client.secrets = ""
            client.forget_grant(getattr(ctype, "rebound_message", "Settings changed: grant access again."))
        client.save()
        client_ids[client.key] = client.pk
    elif section == "storages":
        storage = existing or Storage(name=doc.name)
        storage.description, storage.ttl_seconds = doc.description, doc.ttl_seconds
        storage.save()
    elif section == "transformers":
        transformer = existing or Transformer(name=doc.name)
        transformer.description = doc.description
        transformer.steps = _client_keys_to_ids(doc.steps, client_ids)
        transformer.save()
    elif section == "incomings":
        incoming = existing or Incoming(name=doc.name)
        for name in ("subscriber", "config", "path", "query", "pagination", "page_cap", "incremental", "task_label",
                     "task_key", "enabled"):
            setattr(incoming, name, getattr(doc, name))
        incoming.http_client_id = client_ids[doc.http_client] if doc.http_client else None
        incoming.transformer = by_name(Transformer, doc.transformer)
        incoming.save()
    elif section == "outgoings":
        outgoing = existing or Outgoing(name=doc.name)
        for name in ("publisher", "action", "entity", "path", "query", "payload"):
            setattr(outgoing, name, getattr(doc, name))
        local = {k: v for k, v in (outgoing.config or {}).items() if k in LOCAL_CONFIG_KEYS}
        outgoing.config = {**doc.config, **local}
        outgoing.http_client_id = client_ids[doc.http_client]
        outgoing.transformer = by_name(Transformer, doc.transformer)
        outgoing.save()
    elif section == "webhooks":
        hook = existing or Webhook(name=doc.name)
        for name in ("kind", "enabled", "parser", "parser_config", "validation", "dedup_header",
                     "dedup_window_seconds", "identifier_path", "sample"):
            setattr(hook, name, getattr(doc, name))
        hook.config = _client_keys_to_ids(doc.config, client_ids)
        hook.save()
    elif section == "routes":
        route = existing or Route(name=doc.name)
        route.incoming = by_name(Incoming, doc.incoming)
        route.webhook = by_name(Webhook, doc.webhook)
        route.outgoing = by_name(Outgoing, doc.outgoing)
        for name in ("enabled", "max_attempts", "backoff_seconds", "batch_size"):
            setattr(route, name, getattr(doc, name))
        route.schedule_kind, route.interval_seconds = doc.schedule.kind, doc.schedule.interval_seconds
        route.cron, route.timezone = doc.schedule.cron, doc.schedule.timezone
        route.save()
        route.set_transformers([Transformer.objects.get(name=name) for name in doc.transformers])


def apply_import(plan: ImportPlan) -> ImportPlan:
    """Apply ``plan``'s document in one transaction: all of it or nothing. Returns the plan that was applied
    (made again inside the transaction, so it is true even if the database changed since the dry run).

    Raises ``ImportRefused`` (nothing written) when that plan is not ``ok``.
    """
    if plan.document is None:
        raise ImportRefused(plan)
    with transaction.atomic():
        fresh = _Planner(plan.document).run()
        if not fresh.ok:
            raise ImportRefused(fresh)
        client_ids = dict(HttpClient.objects.values_list("key", "pk"))
        by_ref = {(o.section, o.key): o for o in fresh.objects}
        for section in SECTIONS[1:]:
            for doc in plan.document.section(section):
                if by_ref[(section, doc.ref)].action not in (CREATE, UPDATE):
                    continue
                existing = MODELS[section]._default_manager.filter(**{key_field(section): doc.ref}).first()
                _write(section, doc, existing, client_ids)
        fresh.applied = True
    return fresh
