"""The configuration document: its schema (one pydantic model per section) and reading it from text.

A document is JSON or YAML::

    {"schema": "exact-dash/configuration", "version": 1,
     "variables": [...], "clients": [...], "storages": [...], "transformers": [...],
     "incomings": [...], "outgoings": [...], "webhooks": [...], "routes": [...]}

Objects refer to each other by stable keys, never database ids: a client by its ``key``, everything else
by its (unique) ``name``. Secrets and tokens are never in it: ``secrets`` lists the *names* of the secrets an
object had on the exporting side (what the importing side must enter) and ``granted`` whether the client had
been granted access there.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lib.json_input import JSONInputError, parse_json

__all__ = [
    "INFORMATIONAL",
    "SCHEMA",
    "SECTIONS",
    "VERSION",
    "ClientDoc",
    "ConfigDocument",
    "DocumentError",
    "IncomingDoc",
    "OutgoingDoc",
    "RouteDoc",
    "ScheduleDoc",
    "StorageDoc",
    "TransformerDoc",
    "VariableDoc",
    "WebhookDoc",
    "dump_document",
    "read_document",
    "validate_document",
]

SCHEMA = "exact-dash/configuration"
VERSION = 1
# The order objects are written in (and created in): everything refers only to sections before it.
SECTIONS = ("variables", "clients", "storages", "transformers", "incomings", "outgoings", "webhooks", "routes")
# Keys that inform the importing side but are not configuration: never compared, never written.
INFORMATIONAL = frozenset({"secrets", "granted"})

JSON = dict[str, Any]


class DocumentError(ValueError):
    """Why a document was refused as a whole (nothing of it is applied)."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @property
    def ref(self) -> str:
        return str(getattr(self, "key", None) or getattr(self, "name", ""))


class VariableDoc(_Doc):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)
    description: str = ""
    encrypted: bool = False


class ClientDoc(_Doc):
    key: str = Field(pattern=r"^[-a-zA-Z0-9_]+$", max_length=100)
    name: str = Field(min_length=1, max_length=200)
    kind: str
    log_requests: bool = False
    config: JSON = {}
    secrets: list[str] = []
    granted: bool = False


class StorageDoc(_Doc):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    description: str = ""
    ttl_seconds: int | None = Field(default=None, ge=0)


class TransformerDoc(_Doc):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    steps: list[Any] = []


class IncomingDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    subscriber: str
    http_client: str | None = None
    transformer: str | None = None
    config: JSON = {}
    path: JSON = {}
    query: JSON = {}
    pagination: bool = True
    page_cap: int | None = Field(default=None, ge=0)
    incremental: bool = False
    task_label: str = ""
    task_key: str = ""
    enabled: bool = True
    secrets: list[str] = []


class OutgoingDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    publisher: str
    action: str = "create"
    entity: str = ""
    http_client: str
    transformer: str | None = None
    path: JSON = {}
    query: JSON = {}
    payload: JSON = {}
    config: JSON = {}
    secrets: list[str] = []


class WebhookDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "generic"
    enabled: bool = True
    parser: str = "json"
    parser_config: JSON = {}
    validation: JSON = {}
    config: JSON = {}
    dedup_header: str = ""
    dedup_window_seconds: int = Field(default=3600, ge=0)
    identifier_path: str = ""
    sample: str = ""
    secrets: list[str] = []


class ScheduleDoc(_Doc):
    kind: str = "none"
    interval_seconds: int | None = Field(default=None, ge=0)
    cron: str = ""
    timezone: str = "Europe/Amsterdam"


class RouteDoc(_Doc):
    name: str = Field(min_length=1, max_length=200)
    incoming: str | None = None
    webhook: str | None = None
    transformers: list[str] = []
    outgoing: str
    enabled: bool = True
    max_attempts: int = Field(default=5, ge=0)
    backoff_seconds: int = Field(default=30, ge=0)
    batch_size: int = Field(default=50, ge=0)
    schedule: ScheduleDoc = ScheduleDoc()


class ConfigDocument(BaseModel):
    """A whole document, validated: every section a list of its objects."""

    model_config = ConfigDict(extra="forbid")

    schema_: str = Field(alias="schema")
    version: int
    exported_at: str = ""
    variables: list[VariableDoc] = []
    clients: list[ClientDoc] = []
    storages: list[StorageDoc] = []
    transformers: list[TransformerDoc] = []
    incomings: list[IncomingDoc] = []
    outgoings: list[OutgoingDoc] = []
    webhooks: list[WebhookDoc] = []
    routes: list[RouteDoc] = []

    def section(self, name: str) -> list[Any]:
        return list(getattr(self, name))


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors()[:10]:
        where = ".".join(str(part) for part in item["loc"]) or "document"
        lines.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(lines)
    return "; ".join(lines) + (f" (and {more} more)" if more > 0 else "")


def validate_document(data: Any) -> ConfigDocument:
    """The parsed document checked against the schema; ``DocumentError`` says what is wrong."""
    if not isinstance(data, dict):
        raise DocumentError("The document is not an object with a schema and a version.")
    if data.get("schema") != SCHEMA:
        raise DocumentError(f"Not an Exact Dash configuration: expected \"schema\": \"{SCHEMA}\".")
    version = data.get("version")
    if version != VERSION:
        raise DocumentError(f"Schema version {version!r} is not supported: this installation reads version {VERSION}.")
    try:
        document = ConfigDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(f"The document does not match the schema: {_describe(exc)}") from None
    for section in SECTIONS:
        refs = [obj.ref for obj in document.section(section)]
        doubles = sorted({ref for ref in refs if refs.count(ref) > 1})
        if doubles:
            raise DocumentError(f"{section}: {', '.join(doubles)} appear{'s' if len(doubles) == 1 else ''} twice.")
    return document


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: ten times faster
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _refuse_aliases(value: Any) -> None:
    """An alias (``*name``) makes two places hold the same object: a few of them can expand into gigabytes when
    the document is walked or written, so a container met twice is refused (checked without recursion)."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            if id(item) in seen:
                raise DocumentError("YAML anchors and aliases (*name) are not accepted in a configuration.")
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)


def read_document(text: str | bytes, *, max_bytes: int | None = None) -> ConfigDocument:
    """A document from JSON or YAML text, checked; ``DocumentError`` with a clear reason otherwise.

    The text goes through the project's JSON rules (``lib.json_input``: no NaN, no NUL, bounded depth) also
    when it is YAML, and may not be larger than ``max_bytes`` (default ``DASH_CONFIG_IMPORT_MAX_BYTES``).
    """
    from django.conf import settings

    limit = settings.CONFIG_IMPORT_MAX_BYTES if max_bytes is None else max_bytes
    size = len(text.encode() if isinstance(text, str) else text)
    if size > limit:
        raise DocumentError(f"The document is over the limit of {limit / 1_000_000:.1f} MB "
                            "(DASH_CONFIG_IMPORT_MAX_BYTES): nothing was read.")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError("The document is not UTF-8 text.") from None
    stripped = text.lstrip()
    if not stripped:
        raise DocumentError("The document is empty.")
    try:
        if stripped[0] in "{[":
            data = parse_json(text)
        else:
            try:
                loaded = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
            except RecursionError:
                raise DocumentError("Not valid YAML: nested too deeply.") from None
            except yaml.YAMLError as exc:
                raise DocumentError(f"Not valid YAML: {exc}") from None
            _refuse_aliases(loaded)
            data = parse_json(json.dumps(loaded, default=str))
    except DocumentError:
        raise
    except JSONInputError as exc:
        raise DocumentError(f"Not valid JSON: {exc}") from None
    except ValueError as exc:  # NaN from YAML's .nan, out of range numbers
        raise DocumentError(f"Not valid: {exc}") from None
    return validate_document(data)


def dump_document(document: JSON, fmt: str = "json") -> str:
    """``document`` as text: ``json`` (indented) or ``yaml`` (block style, keys in the document's order)."""
    if fmt == "yaml":
        return str(yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                             width=120))
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
