"""Steps that reach outside the entity through the context's services: HTTP lookups and storages.

They never import the platform: the storage and the lookup provider come in through ``RunState.context``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .. import expressions, paths, placeholders
from ..chain import RunState
from ..errors import SkipEntity, StepFailure
from ..registry import Step, StepParams, register_step
from ..services import content_hash
from ._helpers import check_expression, check_path, check_template

__all__ = ["HttpLookupStep", "SkipUnchangedStep", "StorageGetStep", "StorageSaveStep"]


def _render_deep(value: Any, entity: Any) -> Any:
    if isinstance(value, str):
        return placeholders.render(value, entity) if "&{" in value else value
    if isinstance(value, dict):
        return {key: _render_deep(item, entity) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_deep(item, entity) for item in value]
    return value


def _check_templates_deep(problems: list[tuple[str, str]], name: str, value: Any) -> None:
    if isinstance(value, str):
        check_template(problems, name, value)
    elif isinstance(value, dict):
        for item in value.values():
            _check_templates_deep(problems, name, item)
    elif isinstance(value, list):
        for item in value:
            _check_templates_deep(problems, name, item)


class HttpLookupParams(StepParams):
    http_client: int | str = Field(title="HTTP Client", description="The HTTP client the request goes through.")
    method: Literal["GET", "POST"] = Field(default="GET")
    path: str = Field(description="Request path with placeholders, e.g. crm/Accounts.")
    query: dict[str, str] = Field(
        default_factory=dict,
        description="""Query parameters with placeholders, e.g. {"$filter": "Code eq '&{Code}'"}.""",
    )
    body: Any = Field(default=None, description="JSON body for POST; strings may hold placeholders.")
    result: str = Field(default="@", description="JMESPath applied to the response, e.g. d.results[0].ID.")
    target: str = Field(description="Where to write the result, e.g. AccountID.")
    when_missing: Literal["fail", "wait", "null", "keep", "skip"] = Field(
        default="fail", description="When the result is null or empty: fail the task, wait for it (the task is "
                                    "retried with the route's backoff, e.g. until another route has made the "
                                    "record), write null, keep, or skip."
    )
    cache: bool = Field(default=True, description="Reuse answers to identical requests within the run.")


@register_step
class HttpLookupStep(Step):
    type = "http_lookup"
    advanced = ("method", "body", "when_missing", "cache")
    label = "HTTP lookup"
    help = "Enrich through an HTTP client (e.g. an Exact Account GUID by code); calls count against the quota."
    category = "Lookups & storage"
    Params = HttpLookupParams
    widgets: ClassVar[dict[str, str]] = {
        "http_client": "text",
        "path": "template",
        "result": "expression",
        "target": "path",
    }
    params: HttpLookupParams

    @classmethod
    def check(cls, params: HttpLookupParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if params.http_client in ("", None):
            problems.append(("http_client", "choose an HTTP client"))
        check_template(problems, "path", params.path)
        _check_templates_deep(problems, "query", params.query)
        _check_templates_deep(problems, "body", params.body)
        check_expression(problems, "result", params.result)
        check_path(problems, "target", params.target, allow_root=False, allow_wildcard=False)
        return problems

    def prepare(self) -> None:
        self.result = expressions.compile_expression(self.params.result)
        self.target = paths.parse(self.params.target)

    def apply(self, entity: Any, run: RunState) -> Any:
        request: dict[str, Any] = {
            "method": self.params.method,
            "path": placeholders.as_text(placeholders.render(self.params.path, entity)),
            "query": {
                key: placeholders.as_text(_render_deep(value, entity)) for key, value in self.params.query.items()
            },
            "body": _render_deep(self.params.body, entity),
        }
        key = ("http_lookup", str(self.params.http_client), content_hash(request))
        cache = run.context.cache
        if self.params.cache and key in cache:
            response = cache[key]
        else:
            response = run.context.resolve_lookup()(self.params.http_client, request)
            if self.params.cache:
                cache[key] = response
        value = expressions.evaluate(self.result, response)
        if value is None or value == [] or value == "":
            mode = self.params.when_missing
            if mode == "fail":
                raise StepFailure(self.params.target, f"lookup {request['path']} found nothing")
            if mode == "wait":
                raise StepFailure(self.params.target, f"lookup {request['path']} found nothing yet: waiting for it "
                                                      "(retried with the route's backoff)", retryable=True)
            if mode == "skip":
                raise SkipEntity(f"step {self.location} (HTTP lookup): {request['path']} found nothing")
            if mode == "keep":
                return entity
            value = None
        return paths.assign(entity, self.target, paths.clone(value))

    def summary(self) -> str:
        return f"{self.params.method} {self.params.path} → {self.params.target}"


class StorageGetParams(StepParams):
    store: str = Field(description="The storage's name.")
    key: str = Field(description="Key with placeholders, e.g. account-&{Code}.")
    target: str = Field(description="Where to put the stored value.")
    when_missing: Literal["null", "keep", "default", "fail", "skip"] = Field(
        default="null", description="With no stored value: write null, keep, write Default, fail, or skip."
    )
    default: Any = Field(default=None)


def _check_store(problems: list[tuple[str, str]], params: Any) -> None:
    if not params.store.strip():
        problems.append(("store", "name a storage"))
    if not params.key.strip():
        problems.append(("key", "a key is required"))
    check_template(problems, "key", params.key)


def _key(template: str, entity: Any, where: str) -> str:
    key = placeholders.as_text(placeholders.render(template, entity))
    if not key:
        raise StepFailure(where, f"the key '{template}' is empty for this entity")
    return key[:255]


@register_step
class StorageGetStep(Step):
    type = "storage_get"
    advanced = ("default",)
    label = "Storage get"
    help = "Read a value stored earlier (by this or another route) into the entity."
    category = "Lookups & storage"
    Params = StorageGetParams
    widgets: ClassVar[dict[str, str]] = {"key": "template", "target": "path", "default": "value"}
    params: StorageGetParams

    @classmethod
    def check(cls, params: StorageGetParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        _check_store(problems, params)
        check_path(problems, "target", params.target, allow_wildcard=False)
        return problems

    def prepare(self) -> None:
        self.target = paths.parse(self.params.target)

    def apply(self, entity: Any, run: RunState) -> Any:
        key = _key(self.params.key, entity, "key")
        try:
            value = run.context.require_storage().get(self.params.store, key)
        except KeyError:
            mode = self.params.when_missing
            if mode == "keep":
                return entity
            if mode == "fail":
                raise StepFailure("key", f"nothing stored under '{key}' in {self.params.store}") from None
            if mode == "skip":
                raise SkipEntity(f"step {self.location} (storage get): nothing stored under '{key}'") from None
            value = self.params.default if mode == "default" else None
        return paths.assign(entity, self.target, paths.clone(value))

    def summary(self) -> str:
        return f"{self.params.store}[{self.params.key}] → {self.params.target}"


class StorageSaveParams(StepParams):
    store: str = Field(description="The storage's name.")
    key: str = Field(description="Key with placeholders, e.g. order-&{OrderNumber}.")
    source: str = Field(default="", description="What to store; empty stores the whole entity.")
    ttl: int | None = Field(default=None, ge=1, description="Seconds to keep it; empty uses the storage's default.")


@register_step
class StorageSaveStep(Step):
    type = "storage_save"
    advanced = ("ttl",)
    label = "Storage save"
    help = "Store a value (or the entity) under a key, for later runs or other routes."
    category = "Lookups & storage"
    Params = StorageSaveParams
    widgets: ClassVar[dict[str, str]] = {"key": "template", "source": "path"}
    params: StorageSaveParams

    @classmethod
    def check(cls, params: StorageSaveParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        _check_store(problems, params)
        check_path(problems, "source", params.source, allow_wildcard=False)
        return problems

    def prepare(self) -> None:
        self.source = paths.parse(self.params.source)

    def apply(self, entity: Any, run: RunState) -> Any:
        key = _key(self.params.key, entity, "key")
        value = paths.get(entity, self.source)
        if value is paths.MISSING:
            raise StepFailure(self.params.source, "nothing to store: path not found")
        run.context.require_storage().set(self.params.store, key, paths.clone(value), ttl=self.params.ttl)
        return entity

    def summary(self) -> str:
        return f"{self.params.source or 'entity'} → {self.params.store}[{self.params.key}]"


class SkipUnchangedParams(StepParams):
    store: str = Field(description="The storage that remembers content hashes.")
    key: str = Field(description="What identifies the entity, e.g. &{ID}.")
    fields: list[str] = Field(
        default_factory=list, description="Paths to compare, one per line; empty compares the whole entity."
    )
    record: Literal["now", "deferred"] = Field(
        default="now",
        description="now: remember the hash here; deferred: the platform remembers it once the task succeeds.",
    )
    ttl: int | None = Field(default=None, ge=1, description="Forget hashes after this many seconds.")
    reason: str = Field(default="", description="Shown on the skipped task; placeholders allowed.")


@register_step
class SkipUnchangedStep(Step):
    type = "skip_unchanged"
    grows = False
    advanced = ("record", "ttl", "reason")
    label = "Filter previously stored entities"
    help = "Skip an entity whose content hash is unchanged since it last passed: saves Exact quota."
    category = "Lookups & storage"
    Params = SkipUnchangedParams
    widgets: ClassVar[dict[str, str]] = {"key": "template", "reason": "template"}
    params: SkipUnchangedParams

    @classmethod
    def check(cls, params: SkipUnchangedParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        _check_store(problems, params)
        for text in params.fields:
            check_path(problems, "fields", text, allow_root=False)
        check_template(problems, "reason", params.reason)
        return problems

    def prepare(self) -> None:
        self.fields = [(text, paths.parse(text)) for text in self.params.fields]

    def apply(self, entity: Any, run: RunState) -> Any:
        key = _key(self.params.key, entity, "key")
        if self.fields:
            picked = {}
            for text, path in self.fields:
                found = paths.find(entity, path)
                picked[text] = (
                    [value for _, value in found] if paths.has_wildcard(path) else (found[0][1] if found else None)
                )
            digest = content_hash(picked)
        else:
            digest = content_hash(entity)
        storage = run.context.require_storage()
        if storage.has_hash(self.params.store, key, digest):
            reason = placeholders.render(self.params.reason, entity) if self.params.reason else ""
            raise SkipEntity(placeholders.as_text(reason) or f"unchanged since it last passed ({self.params.store})")
        if self.params.record == "now":
            storage.set_hash(self.params.store, key, digest, ttl=self.params.ttl)
        else:
            run.deferred.append({"store": self.params.store, "key": key, "hash": digest, "ttl": self.params.ttl})
        return entity

    def summary(self) -> str:
        return f"{self.params.store}[{self.params.key}]"
