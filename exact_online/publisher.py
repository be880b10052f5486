"""The Exact Online Publisher: writes one task to Exact (create, update, delete, upsert, get).

Writes never duplicate: every create carries an idempotency reference in a reference field of the
entity, and after a lost response (timeout, dropped connection, 5xx) or on any attempt that may have
reached Exact before, the record is looked up by that reference before it is POSTed again.
Exact's validation errors (400, or a 500 carrying validation text, possibly in Dutch) are permanent;
a used-up quota and an outage (no answer, 502/503/504, a 401 blip: ``errors.is_outage``) defer the batch without
spending an attempt (``connections.waits``); another 500 is left to the route's retry policy; other 4xx are
never retried.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from connections.publishers import Publisher, PublishError, PublishJob, PublishResult, register_publisher
from connections.waits import WaitUntil

from . import errors
from .api import is_validation_text
from .catalog import Entity, catalog
from .models import access_of
from .odata import filter_literal, key_path
from .quota import quota_scope
from .upsert_lookup import look_up_upsert_keys

__all__ = ["ExactOnlinePublisher", "reference_field_candidates"]

logger = logging.getLogger(__name__)

METHOD_FOR_ACTION = {"create": "POST", "update": "PUT", "delete": "DELETE", "upsert": "POST", "get": "GET"}
# Fields that can carry our idempotency reference, best first (short, writable, filterable text). None is
# free: every one of them is a field people use, so writing the reference there is an explicit choice
# ("reference_overwrite"), never a default; by default the reference stays on our side (the task).
REFERENCE_FIELD_PREFERENCE = (
    "YourRef", "Reference", "SearchCode", "YourReference", "ExternalReference", "Remarks", "Description", "Notes",
)
STRIP_KEYS = ("__metadata", "__deferred")


def reference_field_candidates(entity: Entity) -> list[str]:
    """Writable text properties that can hold the reference, the preferred ones first."""
    text = [p.name for p in entity.properties if p.type == "Edm.String" and p.post is not False and not p.primary_key]
    preferred = [name for name in REFERENCE_FIELD_PREFERENCE if name in text]
    return preferred + [name for name in text if name not in preferred]


_API_CACHE: dict[int, tuple[float, Any, Any]] = {}
API_CACHE_SECONDS = 60.0


def _api_for(http_client: Any) -> Any:
    """The HTTP layer for a client (``client_type.api_for``), reused for a minute within a worker process.

    The grant and quota stores behind it live in the database, so a reused ``ExactApi`` still sees a
    refreshed token; reuse saves building a session per task.
    """
    from .client_type import api_for

    now = time.monotonic()
    cached = _API_CACHE.get(http_client.pk)
    if cached and cached[0] > now and cached[1] == http_client.updated_at:
        return cached[2]
    api = api_for(http_client)
    _API_CACHE[http_client.pk] = (now + API_CACHE_SECONDS, http_client.updated_at, api)
    return api


def _default_division(http_client: Any) -> int | None:
    access = access_of(http_client)
    return int(access.division) if access is not None and access.division else None


def _division_of(job: PublishJob) -> int | None:
    """The division a job writes to: its path's, the Outgoing's configured one, or the client's default."""
    division = job.path.get("division") or job.config.get("division") or _default_division(job.outgoing.http_client)
    return int(division) if division else None


def _error_response(error: errors.ExactError) -> dict[str, Any]:
    return {"status": error.status, "error": error.message, "reason": error.reason}


class _Call:
    """One publish: the API, the entity and a record of the calls made."""

    def __init__(self, job: PublishJob, entity: Entity, api: Any, division: int | None) -> None:
        self.job = job
        self.entity = entity
        self.api = api
        self.division = division
        self.result = PublishResult()
        self.pk = entity.primary_key or "ID"
        self.pk_type = entity.primary_key_type

    def log(self, line: str) -> None:
        self.result.log.append(line)

    def key_path(self, key: str) -> str:
        return key_path(self.entity, key)

    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        self.result.calls += 1
        self.result.request = {"method": method, "path": path, "division": self.division,
                               "params": params or {}, "body": body}
        response = self.api.request(method, path, division=self.division, params=params or None, json=body,
                                    retry_transient=method in ("GET", "PUT", "DELETE"))
        self.result.response = {"status": response.status, "body": response.body}
        return response

    def find(self, field: str, value: Any) -> str | None:
        """The key of the record whose ``field`` equals ``value`` (a GET with $filter), or None."""
        params = {"$filter": f"{field} eq {filter_literal(self.entity, field, value)}",
                  "$select": self.pk, "$top": "2"}
        self.result.calls += 1
        body = self.api.get(self.entity.endpoint, division=self.division, params=params)
        data = body.get("d", body) if isinstance(body, dict) else {}
        rows = data.get("results", []) if isinstance(data, dict) else []
        if len(rows) > 1:
            self.log(f"{len(rows)} records have {field} = {value!r}; using the first")
        return str(rows[0][self.pk]) if rows else None


@register_publisher
class ExactOnlinePublisher(Publisher):
    kind = "exact_online"
    label = "Exact Online Publisher"

    # --- configuration ---------------------------------------------------------------------------------

    def entity_choices(self, action: str | None = None) -> list[tuple[str, str]]:
        method = METHOD_FOR_ACTION.get(action or "")
        choices = []
        for entity in catalog():
            if entity.kind != "standard":
                continue
            if action == "upsert" and not (entity.supports("POST") and entity.supports("PUT")):
                continue
            if method and not entity.supports(method):
                continue
            choices.append((entity.endpoint, entity.label))
        return sorted(choices, key=lambda c: c[1].lower())

    def reference_field_choices(self, entity: str) -> list[tuple[str, str]]:
        found = catalog().get(entity)
        return [(name, name) for name in reference_field_candidates(found)] if found else []

    entity_template = "exact_online/publisher_entity.html"

    def entity_context(self, entity: str, action: str) -> dict[str, Any]:
        found = catalog().get(entity) if entity else None
        if found is None:
            return {}
        flag = "put" if action == "update" else "post"
        mandatory = set(found.mandatory_on_post) | {p.name for p in found.properties if p.mandatory}
        rows = [{"name": p.name, "type": p.short_type, "description": p.description,
                 "mandatory": p.name in mandatory and action in ("create", "upsert"),
                 "writable": getattr(p, flag) is not False, "key": p.primary_key} for p in found.properties]
        return {"entity": found, "properties": rows}

    def key_field_choices(self, entity: str) -> list[tuple[str, str]]:
        found = catalog().get(entity)
        return [(p.name, p.name) for p in found.properties if p.is_scalar] if found else []

    def default_reference_field(self, entity: str) -> str:
        """None: the reference is kept on our side unless someone chooses a field and confirms the overwrite."""
        return ""

    @staticmethod
    def overwrite_warning(field: str) -> str:
        return (f"Every record this Outgoing creates gets a generated reference in {field}, replacing what "
                f"people keep there. Tick \"Overwrite {field}\" to confirm, or keep the reference on our side.")

    def validate(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any],
                 payload: dict[str, Any], config: dict[str, Any]) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        found = catalog().get(entity)
        if found is None:
            return {"entity": [f"Unknown entity {entity!r}: pick one from the catalog."]}
        method = METHOD_FOR_ACTION.get(action, "GET")
        if not found.supports(method) or (action == "upsert" and not found.supports("PUT")):
            problems.setdefault("entity", []).append(
                f"{found.endpoint} does not support {action} (methods: {', '.join(found.methods)})."
            )
        # When tasks supply the payload (the usual case) the static one is only a base: it need not be complete.
        partial = bool(config.get("payload_from_tasks", True)) or not payload
        problems.update(self.check_payload(found, action, payload, partial=partial))
        for key in ("reference_field", "upsert_key"):
            name = config.get(key)
            if name and not found.has_property(name):
                problems.setdefault(key, []).append(f"{found.endpoint} has no property {name!r}.")
        reference = config.get("reference_field") or ""
        if reference and action in ("create", "upsert") and not config.get("reference_overwrite"):
            problems.setdefault("reference_overwrite", []).append(self.overwrite_warning(reference))
        if action == "upsert" and not config.get("upsert_key"):
            problems.setdefault("upsert_key", []).append(
                "Upsert needs an upsert key: the property that finds the existing record (e.g. Code). Without "
                "it every task would create a new record.")
        return problems

    def check_payload(self, entity: Entity, action: str, payload: dict[str, Any], *,
                      partial: bool) -> dict[str, list[str]]:
        """Unknown properties; missing mandatory ones for creates (unless the payload comes per task)."""
        messages: list[str] = []
        unknown = [key for key in payload if key not in STRIP_KEYS and not entity.has_property(key)]
        if unknown:
            messages.append(f"Unknown properties of {entity.name}: {', '.join(sorted(unknown))}.")
        if action in ("create", "upsert") and not partial:
            mandatory = set(entity.mandatory_on_post) | {
                p.name for p in entity.properties if p.mandatory and not p.primary_key
            }
            missing = sorted(name for name in mandatory if payload.get(name) in (None, ""))
            if missing:
                messages.append(f"Missing mandatory properties: {', '.join(missing)}.")
        return {"payload": messages} if messages else {}

    def payload_template(self, *, action: str, entity: str) -> dict[str, Any]:
        found = catalog().get(entity)
        if found is None:
            return {}
        placeholders = {"Edm.String": "", "Edm.Guid": None, "Edm.Boolean": False, "Edm.DateTime": None,
                        "Edm.Double": 0.0, "Edm.Decimal": 0.0, "Edm.Int16": 0, "Edm.Int32": 0, "Edm.Int64": 0,
                        "Edm.Byte": 0}
        if action == "delete" or action == "get":
            return {}
        flag = "put" if action == "update" else "post"
        mandatory = set(found.mandatory_on_post) | {p.name for p in found.properties if p.mandatory}
        props = [p for p in found.properties if p.is_scalar and not p.primary_key and getattr(p, flag) is not False]
        props.sort(key=lambda p: (p.name not in mandatory, p.name))
        return {p.name: placeholders.get(p.type) for p in props}

    def describe(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any]) -> str:
        division = path.get("division", "default division")
        method = "PUT if found, else POST" if action == "upsert" else METHOD_FOR_ACTION.get(action, action)
        return f"{method} {entity} (division {division})"

    # --- publishing ------------------------------------------------------------------------------------

    def prepare_batch(self, jobs: list[PublishJob]) -> int:
        """Upserts: find the records of the whole batch by their upsert key at once (``upsert_lookup``)."""
        if not jobs or jobs[0].outgoing.action != "upsert":
            return 0
        entity = catalog().get(jobs[0].outgoing.entity)
        upsert_key = str(jobs[0].config.get("upsert_key") or "")
        if entity is None or not upsert_key:
            return 0
        return look_up_upsert_keys(jobs, entity, upsert_key, _api_for(jobs[0].outgoing.http_client), _division_of)

    def publish(self, job: PublishJob) -> PublishResult:
        outgoing = job.outgoing
        entity = catalog().get(outgoing.entity)
        if entity is None:
            raise PublishError(f"Unknown entity {outgoing.entity!r}", permanent=True)
        payload = {k: v for k, v in job.payload.items() if k not in STRIP_KEYS}
        problems = self.check_payload(entity, outgoing.action, payload, partial=False).get("payload")
        if problems:
            # Refused before sending: a request Exact would reject costs error budget for nothing.
            raise PublishError("Not sent: " + " ".join(problems), permanent=True)
        call = _Call(job, entity, _api_for(outgoing.http_client), _division_of(job))
        try:
            # Outgoings share a division's minute (exact_online.quota).
            with quota_scope(f"outgoing:{getattr(outgoing, 'pk', '') or ''}"):
                self._publish(call, payload)
        except errors.QuotaWait as wait:
            # Nothing was sent: the task waits for the reset. Unless the wait met the look-up after a write whose
            # answer was lost: that attempt counts (``request``), so the next one looks before writing.
            lost = isinstance(wait.__context__, (errors.Unavailable, errors.BadResponse))
            raise WaitUntil(wait.wait_reason, datetime.fromtimestamp(wait.until, tz=UTC),
                            request=call.result.request if lost else None) from wait
        except errors.ExactError as error:
            if errors.is_outage(error):
                # Exact did not answer (or not now): the task and the rest of its batch wait, the attempt given
                # back. A write that may have reached Exact leaves its request: the next attempt looks first.
                wrote = (call.result.request or {}).get("method") not in (None, "GET")
                raise WaitUntil(errors.outage_reason(error, call.division), errors.outage_until(),
                                request=call.result.request if wrote else None, counted=False) from error
            raise self._as_publish_error(call, error) from error
        return call.result

    def _publish(self, call: _Call, payload: dict[str, Any]) -> None:
        action = call.job.outgoing.action
        if action == "create":
            self._create(call, payload)
        elif action == "update":
            self._update(call, payload, self._key(call, payload, required=True) or "")
        elif action == "delete":
            self._delete(call, self._key(call, payload, required=True) or "")
        elif action == "upsert":
            self._upsert(call, payload)
        elif action == "get":
            self._get(call, payload)
        else:
            raise PublishError(f"Unknown action {action!r}", permanent=True)

    def _as_publish_error(self, call: _Call, error: errors.ExactError) -> PublishError:
        permanent = error.permanent
        if isinstance(error, errors.Unavailable) and error.status == 500 and is_validation_text(error.message):
            permanent = True  # a validation message sent as HTTP 500 (often Dutch): not transient
        if isinstance(error, errors.CircuitOpen):
            permanent = True  # nothing was sent; retries would only meet the same pause (the message says until when)
        return PublishError(error.message, permanent=permanent, request=call.result.request,
                            response=_error_response(error), log=call.result.log)

    def _key(self, call: _Call, payload: dict[str, Any], *, required: bool) -> str | None:
        """The target record's key: the task's path ``key``, the payload's primary key, or the id map."""
        job = call.job
        key = job.path.get("key") or payload.get(call.pk)
        if not key and job.source_id:
            key = job.lookup_target(job.source_id)
            if key:
                call.log(f"Source {job.source_id} maps to {key}")
        if not key and required:
            raise PublishError(
                f"No key to address the record: give path.key, payload.{call.pk}, or publish it with Create first.",
                permanent=True,
            )
        return str(key) if key else None

    def _reference_field(self, call: _Call) -> str:
        """The field chosen for the reference, or "" (kept on our side; no field is ever picked silently)."""
        return str(call.job.config.get("reference_field") or "")

    def _create(self, call: _Call, payload: dict[str, Any]) -> None:
        job = call.job
        ref_field = self._reference_field(call)
        body = dict(payload)
        if call.pk in body and not body[call.pk]:
            del body[call.pk]
        if ref_field:
            body[ref_field] = job.reference
            if job.maybe_published:
                existing = call.find(ref_field, job.reference)
                if existing:
                    call.log(f"An earlier attempt already created {existing} ({ref_field} = {job.reference}).")
                    self._done(call, existing)
                    return
        try:
            response = call.send("POST", call.entity.endpoint, body=body)
        except (errors.Unavailable, errors.BadResponse) as error:
            if not ref_field:
                raise
            # The POST may have been applied with its answer lost: look before anything re-sends it.
            call.log(f"Create answered {error.status or 'nothing'} ({error.message}); looking it up by reference.")
            existing = call.find(ref_field, job.reference)
            if existing:
                call.log(f"Found {existing}: the create went through.")
                self._done(call, existing)
                return
            call.log("Not found: the create did not go through; it will be retried.")
            raise
        data = response.body.get("d", {}) if isinstance(response.body, dict) else {}
        key = data.get(call.pk) if isinstance(data, dict) else None
        call.log(f"Created {key}" if key else "Created (no key in the answer)")
        self._done(call, str(key) if key else None)

    def _done(self, call: _Call, key: str | None) -> None:
        call.result.external_key = key
        if key and call.job.source_id:
            call.result.remember = (call.job.source_id, key)

    def _update(self, call: _Call, payload: dict[str, Any], key: str) -> None:
        body = {k: v for k, v in payload.items() if k != call.pk}
        call.send("PUT", call.key_path(key), body=body)
        call.log(f"Updated {key}")
        self._done(call, key)

    def _delete(self, call: _Call, key: str) -> None:
        try:
            call.send("DELETE", call.key_path(key))
            call.log(f"Deleted {key}")
        except errors.NotFound:
            if not call.job.maybe_published:
                raise
            call.log(f"{key} is already gone (an earlier attempt deleted it).")
        call.result.external_key = key
        if call.job.source_id:
            call.result.forget = call.job.source_id

    def _upsert(self, call: _Call, payload: dict[str, Any]) -> None:
        key = self._key(call, payload, required=False)
        upsert_key = call.job.config.get("upsert_key") or ""
        value = payload.get(upsert_key) if upsert_key else None
        prepared = call.job.prepared
        if not key and value not in (None, "") and "upsert_found" in prepared:
            key = prepared["upsert_found"]  # the batch's look-up (prepare_batch) already asked Exact
            call.log(f"Found {key} by {upsert_key} (batch look-up)" if key
                     else f"No record with {upsert_key} = {value!r} (batch look-up)")
        elif not key and value not in (None, ""):
            key = call.find(upsert_key, value)
            call.log(f"Found {key} by {upsert_key}" if key else f"No record with {upsert_key} = {value!r}")
        if key:
            try:
                self._update(call, payload, key)
                return
            except errors.NotFound:
                call.log(f"{key} no longer exists; creating it again.")
                call.result.forget = call.job.source_id or None
        self._create(call, payload)

    def _get(self, call: _Call, payload: dict[str, Any]) -> None:
        key = self._key(call, payload, required=False)
        params = {k: str(v) for k, v in call.job.query.items()}
        path = call.key_path(key) if key else call.entity.endpoint
        if not key and "$select" not in params:
            params["$select"] = ",".join(call.entity.default_select)
        call.send("GET", path, params=params)
        call.result.external_key = key
