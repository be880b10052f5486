"""The HTTP Publisher: writes one task to any JSON REST API through a generic HTTP Client.

The Outgoing's entity is the path (``/orders/{id}``, ``{name}`` filled from the task's path parameters);
path, query and payload come from the task merged over the static ones (the platform's rule, as for Exact).
Which statuses mean success is configurable; other 4xx are permanent except 408, 409, 425 and 429. A 429, the
client's used-up requests-per-minute limit, no answer (timeouts, dropped connections) and 408, 502, 503 or 504
defer the batch (``WaitUntil``: the server's ``Retry-After``, else ``DASH_HTTP_OUTAGE_WAIT``) without spending an
attempt and without sleeping in the worker; a plain 500 (and 409, 425) is left to the route's retry policy, with
the server's ``Retry-After`` passed on. An optional idempotency-key header carries a key derived from the task, so a
retry after a lost answer is recognised by APIs that support it and never creates twice.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from pydantic import field_validator

from connections.publishers import Publisher, PublishError, PublishJob, PublishResult
from connections.waits import WaitUntil
from lib.plugins import EmptyConfig

from .api import CallError, RestApi, wait_for
from .client_type import KIND

__all__ = ["METHODS", "HttpPublisher", "HttpPublisherConfig", "parse_statuses"]

METHODS = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_statuses(text: str) -> list[int]:
    """``200-299, 409`` into the list of statuses; ValueError naming the bad part."""
    statuses: list[int] = []
    for part in (text or "").replace(";", ",").split(","):
        item = part.strip()
        if not item:
            continue
        low, sep, high = item.partition("-")
        try:
            first, last = int(low), int(high) if sep else int(low)
        except ValueError:
            raise ValueError(f"{item!r} is not a status or a range such as 200-299") from None
        if not 100 <= first <= last <= 599:
            raise ValueError(f"{item!r} is not a range of HTTP statuses (100-599)")
        statuses.extend(range(first, last + 1))
    return statuses


class HttpPublisherConfig(EmptyConfig):
    success: str = "200-299"
    idempotency_header: str = ""
    key_path: str = "id"
    payload_from_tasks: bool = True

    @field_validator("success")
    @classmethod
    def _statuses(cls, value: str) -> str:
        if not parse_statuses(value or "200-299"):
            raise ValueError("Give at least one success status.")
        return value or "200-299"

    @field_validator("idempotency_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError("A header name is letters, digits and dashes, e.g. Idempotency-Key.")
        return value


class HttpPublisher(Publisher):
    kind = KIND
    label = "HTTP Publisher (generic REST)"
    description = "Path under the client's Base URI, e.g. /orders or /products/sku/{sku} ({name} from the task's path)."
    Config = HttpPublisherConfig
    free_entity = True
    entity_label: ClassVar[str] = "Path"

    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {
            "success": forms.CharField(label="Success statuses", initial="200-299", required=False, max_length=200,
                                       help_text="Statuses that mean done, e.g. 200-299 or 200-299, 404 for deletes "
                                                 "(empty: 200-299)."),
            "idempotency_header": forms.CharField(
                label="Idempotency-key header", required=False, max_length=100,
                help_text="e.g. Idempotency-Key: sends a key derived from the task, so a retry after a lost answer "
                          "never creates twice at APIs that support it."),
            "key_path": forms.CharField(label="Key in the answer", initial="id", required=False, max_length=100,
                                        help_text="The written record's key in the response body (stored on the "
                                                  "task), e.g. id or data.id."),
        }

    def actions(self) -> list[tuple[str, str]]:
        return [("create", "POST"), ("update", "PUT"), ("patch", "PATCH"), ("delete", "DELETE")]

    def validate(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any],
                 payload: dict[str, Any], config: dict[str, Any]) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        if action not in METHODS:
            problems["action"] = ["Choose POST, PUT, PATCH or DELETE."]
        if entity.startswith(("http://", "https://")):
            problems["entity"] = ["Give a path under the client's Base URI, not a full URL."]
        try:
            parse_statuses(str(config.get("success") or ""))
        except ValueError as exc:
            problems["success"] = [str(exc)]
        return problems

    def describe(self, *, action: str, entity: str, path: dict[str, Any], query: dict[str, Any]) -> str:
        return f"{METHODS.get(action, action.upper())} {entity}"

    def publish(self, job: PublishJob) -> PublishResult:
        outgoing = job.outgoing
        client = outgoing.http_client
        if client is None or client.kind != KIND:
            raise PublishError("The Outgoing's HTTP Client is not a generic HTTP Client.", permanent=True)
        method = METHODS.get(outgoing.action)
        if method is None:
            raise PublishError(f"The action {outgoing.action!r} is not POST, PUT, PATCH or DELETE.", permanent=True)
        config = HttpPublisherConfig.model_validate({k: v for k, v in job.config.items()
                                                     if k in HttpPublisherConfig.model_fields})
        try:
            path = self._path(outgoing.entity, job.path)
        except KeyError as missing:
            raise PublishError(f"Path parameter {missing.args[0]} is missing: give it in the task's path or the "
                               "Outgoing's.", permanent=True) from None
        headers = {config.idempotency_header: f"{job.reference}-{outgoing.pk}"} if config.idempotency_header else {}
        body = None if method == "DELETE" and not job.payload else job.payload
        request = {"method": method, "path": path, "query": job.query, "headers": headers, "body": body}
        result = PublishResult(request=request, calls=1)
        try:
            api = RestApi(client, max_wait=0.0)  # a used-up limit is raised at once: the batch waits, no sleep
            answer = api.send(method, path, params=job.query or None, json_body=body, headers=headers)
        except CallError as exc:
            waiting = wait_for(exc, client.name)
            if waiting is not None:  # not now (no answer, 502/503/504, the limit): deferred, not an attempt
                raise WaitUntil(waiting.reason, waiting.until, request=request if exc.unanswered else None,
                                counted=False) from None
            raise PublishError(exc.message, permanent=exc.permanent, request=request,
                               log=[f"{method} {path}: {exc.message}"]) from None
        response: dict[str, Any] = {"status": answer.status, "elapsed_ms": round(answer.elapsed_ms, 1)}
        try:
            response["body"] = answer.json()
        except CallError:
            response["body"] = answer.text(2000)
        result.response = response
        if answer.status not in set(parse_statuses(config.success)):
            error = api.error_for(answer)
            deferred = wait_for(error, client.name)
            if deferred is not None:  # 429 (its Retry-After), 408, 502, 503, 504: the batch waits, not an attempt;
                # a gateway's 502/504 may have passed the write on: the next attempt knows it may be there
                raise WaitUntil(deferred.reason, deferred.until, counted=False,
                                request=request if answer.status in (502, 504) else None)
            wait = f"; the server asks to wait {error.retry_after:g} s" if error.retry_after else ""
            raise PublishError(error.message + wait, permanent=error.permanent, request=request, response=response,
                               log=[f"{method} {path} answered HTTP {answer.status}"], retry_after=error.retry_after)
        key = _find(response.get("body"), config.key_path)
        result.external_key = key
        if key and job.source_id and method in ("POST", "PUT", "PATCH"):
            result.remember = (job.source_id, key)
        if method == "DELETE" and job.source_id:
            result.forget = job.source_id
        result.log.append(f"{method} {path} answered HTTP {answer.status}" + (f"; key {key}" if key else ""))
        return result

    @staticmethod
    def _path(template: str, path: dict[str, Any]) -> str:
        return _PLACEHOLDER.sub(lambda m: str(path[m.group(1)]), template)


def _find(body: Any, dotted: str) -> str | None:
    value = body
    for part in (dotted or "").split("."):
        if not part:
            continue
        value = value.get(part) if isinstance(value, dict) else None
    return str(value) if value not in (None, "", {}, []) else None
