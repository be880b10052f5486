"""The API's typed answers. Each lists its fields one by one: a model's secrets (``secrets``, tokens) are
never among them, so no answer can carry one (tests/api/test_api_secrets.py sends a canary through)."""

# No ``from __future__ import annotations``: django-ninja reads these annotations at run time.

from datetime import datetime
from typing import Any

from django import forms
from ninja import Schema
from pydantic import BaseModel, ConfigDict, create_model

__all__ = [
    "ERRORS", "WRITE_ERRORS", "ClientOut", "ClientStatusOut", "IncomingOut", "MeOut", "OutgoingOut", "Problem",
    "QuotaOut", "RouteOut", "RouteRunOut", "TaskDetailOut", "TaskOut", "TransformerOut", "VariableOut",
    "WebhookOut", "input_schema",
]


class Problem(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: dict[str, list[str]] | None = None


# The failures every operation declares (``api.problems`` answers them), and those of the ones that write.
ERRORS: dict[int | str, Any] = {401: Problem, 403: Problem, 404: Problem, 429: Problem}
WRITE_ERRORS: dict[int | str, Any] = {**ERRORS, 409: Problem, 422: Problem}


class VariableOut(Schema):
    """An environment variable; an encrypted one's value is write-only (``value`` is null)."""

    id: int
    name: str
    description: str
    encrypted: bool
    value: str | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_value(obj: Any) -> str | None:
        return None if obj.encrypted else obj.value


class MeOut(Schema):
    username: str
    role: str
    token_name: str
    token_expires_at: datetime


class ClientOut(Schema):
    id: int
    key: str
    name: str
    kind: str
    config: dict[str, Any]
    log_requests: bool
    status: str
    status_message: str
    created_at: datetime
    updated_at: datetime


class QuotaOut(Schema):
    division: int
    daily_limit: int | None
    daily_remaining: int | None
    minutely_limit: int | None
    minutely_remaining: int | None
    parked_until: datetime | None
    throttled_count: int


class ClientStatusOut(Schema):
    id: int
    status: str
    status_message: str
    connected_as: str
    token_expires_at: datetime | None
    granted_at: datetime | None
    quotas: list[QuotaOut]


class ConnectionOut(Schema):
    """An Incoming's or Outgoing's HTTP client and transformer, given as their ids."""

    http_client: int
    transformer: int | None

    @staticmethod
    def resolve_http_client(obj: Any) -> int:
        return int(obj.http_client_id)

    @staticmethod
    def resolve_transformer(obj: Any) -> int | None:
        return obj.transformer_id


class IncomingOut(ConnectionOut):
    id: int
    name: str
    subscriber: str
    http_client: int
    transformer: int | None
    config: dict[str, Any]
    path: dict[str, Any]
    query: dict[str, Any]
    pagination: bool
    page_cap: int | None
    incremental: bool
    enabled: bool
    task_label: str
    task_key: str
    created_at: datetime
    updated_at: datetime


class OutgoingOut(ConnectionOut):
    id: int
    name: str
    publisher: str
    action: str
    entity: str
    http_client: int
    transformer: int | None
    config: dict[str, Any]
    path: dict[str, Any]
    query: dict[str, Any]
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class TransformerOut(Schema):
    id: int
    name: str
    description: str
    steps: list[Any]
    created_at: datetime
    updated_at: datetime


class RouteOut(Schema):
    id: int
    name: str
    incoming: int | None
    webhook: int | None
    outgoing: int
    transformers: list[int]
    enabled: bool
    max_attempts: int
    backoff_seconds: int
    batch_size: int
    schedule_kind: str
    interval_seconds: int | None
    cron: str
    timezone: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_incoming(obj: Any) -> int | None:
        return obj.incoming_id

    @staticmethod
    def resolve_webhook(obj: Any) -> int | None:
        return obj.webhook_id

    @staticmethod
    def resolve_outgoing(obj: Any) -> int:
        return int(obj.outgoing_id)

    @staticmethod
    def resolve_transformers(obj: Any) -> list[int]:
        return [t.pk for t in obj.ordered_transformers()]


class WebhookOut(Schema):
    id: int
    name: str
    kind: str
    enabled: bool
    url: str
    parser: str
    parser_config: dict[str, Any]
    validation: dict[str, Any]
    identifier_path: str
    dedup_header: str
    dedup_window_seconds: int
    routes: list[int]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_url(obj: Any) -> str:
        from django.urls import reverse

        return reverse("hook", args=[obj.token])

    @staticmethod
    def resolve_routes(obj: Any) -> list[int]:
        return sorted(obj.routes.values_list("pk", flat=True))


class RouteRunOut(Schema):
    id: int
    route: int
    run: int | None
    status: str
    trigger: str
    created_at: datetime
    reading_finished_at: datetime | None
    finished_at: datetime | None
    error: str
    api_calls: int

    @staticmethod
    def resolve_route(obj: Any) -> int:
        return int(obj.route_id)

    @staticmethod
    def resolve_run(obj: Any) -> int | None:
        return obj.run_id


class TaskOut(Schema):
    id: int
    run: int | None
    status: str
    label: str
    identifier: str
    search_key: str
    division: int | None
    external_key: str
    attempts: int
    error: str
    skip_reason: str
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_run(obj: Any) -> int | None:
        return obj.run_id


class TaskDetailOut(TaskOut):
    data: Any
    transformed: Any
    request: Any
    response: Any
    log: list[Any]


class FormBody(BaseModel):
    """The fields of a form, by the form's names; a plugin's own fields (a subscriber's, a publisher's, a client
    type's) are accepted as extra keys (a plain pydantic model: ninja's ``Schema`` would drop them)."""

    model_config = ConfigDict(extra="allow")


_FIELD_TYPES: list[tuple[type[forms.Field], Any]] = [
    (forms.ModelMultipleChoiceField, list[int]),
    (forms.MultipleChoiceField, list[str]),
    (forms.ModelChoiceField, int),
    (forms.BooleanField, bool),
    (forms.IntegerField, int),
    (forms.FloatField, float),
]


def input_schema(name: str, form_class: type[forms.BaseForm], *, also: type[forms.BaseForm] | None = None,
                 doc: str = "", renames: dict[str, str] | None = None) -> type[FormBody]:
    """A body schema naming the fields of ``form_class`` (declared ones; a plugin's fields are extra keys).

    Every field is optional here: the form decides what is required, and an update sends only what changes.
    """
    fields: dict[str, Any] = {}
    for form in (form_class, also):
        for field_name, field in (getattr(form, "base_fields", {}) if form is not None else {}).items():
            kind: Any = next((t for cls, t in _FIELD_TYPES if isinstance(field, cls)), str | dict[str, Any] | list[Any])
            fields[(renames or {}).get(field_name, field_name)] = (kind | None, None)
    model: type[FormBody] = create_model(name, __base__=FormBody, __doc__=doc or None, **fields)
    return model
