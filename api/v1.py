"""The REST API, version 1 (``/api/v1/``): configurations, runs, tasks, client status.

Thin like the views: every operation carries the same role decorator as the page that does the same thing
(``dashboard.access``), loads its object through ``get_for_user``, validates writes with the page's own form,
and changes state through the domain's functions (``start_route_run``, ``requeue_tasks``, ``skip_task``).
Authentication is a personal API token (``api.models.ApiToken``) acting as its user; every token has its own
rate budget (``DASH_API_RATE``); every error is a problem document (``api.problems``).
"""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Literal, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import HttpBearer
from ninja.throttling import AuthRateThrottle
from pydantic import Field as PydanticField

from audit.models import AuditEntry
from audit.recording import API_REASON, record
from clients.forms import ClientForm
from clients.models import HttpClient
from clients.registry import ClientType, get_client_type
from configuration.forms import VariableForm
from configuration.models import Variable
from configuration.variables import usages
from connections.flow import routing
from connections.forms.incoming import IncomingForm
from connections.forms.outgoing import OutgoingForm
from connections.forms.routes import RouteForm
from connections.forms.transformers import TransformerForm
from connections.models import Incoming, Outgoing, Route, RouteRun, Task, Transformer, TriggerSource
from connections.task_counts import count_by_status
from connections.task_filters import FILTER_KEYS, filtered_tasks
from dashboard.access import editor_required, get_for_user, viewer_required
from dashboard.roles import role_of
from webhooks.forms import WebhookForm
from webhooks.models import Webhook

from . import schemas
from .formdata import bind, form_problem
from .models import ApiToken
from .problems import ApiProblem, install_handlers, problem

__all__ = ["api"]


class TokenAuth(HttpBearer):
    """``Authorization: Bearer xd_…``: the token's user becomes ``request.user`` (its role, its access)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = ApiToken.objects.authenticate(token)
        if found is not None:
            request.user = found.user
        return found


class DashApi(NinjaAPI):
    """The API, whose document says what its errors are: ``application/problem+json``."""

    _schemas: dict[str, Any]

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Built once per process and prefix (it only changes with the code), then served from memory."""
        key = repr((args, sorted(kwargs.items())))
        cache = self.__dict__.setdefault("_schemas", {})
        if key not in cache:
            cache[key] = self._build_schema(*args, **kwargs)
        return copy.deepcopy(cache[key])

    def _build_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema["paths"].values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        return schema


api = DashApi(
    title="Exact Dash API",
    version="1",
    description="Configurations, runs and tasks of Exact Dash. Authenticate with a personal API token (your "
                "user page → API tokens) as `Authorization: Bearer <token>`; it acts with your role: a Viewer "
                "reads, an Editor also writes. Errors are problem details (RFC 9457).",
    urls_namespace="api_v1",
    auth=TokenAuth(),
    throttle=[AuthRateThrottle(settings.DASH_API_RATE)],
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_handlers(api)


class Problem(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: dict[str, list[str]] | None = None


ERRORS: dict[int | str, Any] = {401: Problem, 403: Problem, 404: Problem, 429: Problem}
WRITE_ERRORS: dict[int | str, Any] = {**ERRORS, 409: Problem, 422: Problem}


class Deleted(Schema):
    id: int
    deleted: bool = True


@api.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["account"], summary="Who the token acts as")
@viewer_required
def me(request: HttpRequest) -> dict[str, Any]:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    return {"username": token.user.get_username(), "role": role_of(token.user).label, "token_name": token.name,
            "token_expires_at": token.expires_at}


# --- configurations: one table of resources, each backed by its page's form ---------------------------------


@dataclass(frozen=True)
class Resource:
    """One kind of configuration the API lists, reads, creates, updates and deletes."""

    path: str
    noun: str
    model: type[models.Model]
    out: type[Schema]
    body: type[schemas.FormBody]
    save: Callable[[HttpRequest, Any, dict[str, Any]], Any]  # (request, stored object or None, body) -> saved
    search: Callable[[str], Q]

    def queryset(self) -> models.QuerySet[Any]:
        return self.model._default_manager.order_by("name", "pk")


def _through_api(obj: Any) -> None:
    """The audit trail's entry for this save or delete (a version, by django-simple-history) says "through the API"."""
    obj._change_reason = API_REASON


def _save_model_form(form_class: type[forms.ModelForm], after: Callable[[Any, Any], None] | None = None
                     ) -> Callable[[HttpRequest, Any, dict[str, Any]], Any]:
    """Save through ``form_class`` like the page: ``created_by`` on create, ``after(form, obj)`` for the rest."""

    def save(request: HttpRequest, stored: Any, body: dict[str, Any]) -> Any:
        form = bind(partial(form_class, instance=stored), body)
        if not form.is_valid():
            raise form_problem(form)
        with transaction.atomic():
            obj = form.save(commit=False)  # type: ignore[attr-defined]
            _through_api(obj)
            if stored is None and hasattr(obj, "created_by"):
                obj.created_by = request.user
            obj.save()
            form.save_m2m()  # type: ignore[attr-defined]
            if after is not None:
                after(form, obj)
        return obj

    return save


def _save_route(request: HttpRequest, stored: Route | None, body: dict[str, Any]) -> Route:
    return _save_model_form(RouteForm, lambda form, route: route.set_transformers(form.ordered_transformers()))(
        request, stored, body)


def _save_webhook(request: HttpRequest, stored: Webhook | None, body: dict[str, Any]) -> Webhook:
    return _save_model_form(WebhookForm, lambda form, hook: form.save_routes(hook))(
        request, stored, body)


def _save_transformer(request: HttpRequest, stored: Transformer | None, body: dict[str, Any]) -> Transformer:
    """The name and description through the page's form; the steps, as JSON, through the model's own check."""
    from django.core.exceptions import ValidationError

    body = dict(body)
    steps = body.pop("steps", None)
    form = bind(partial(TransformerForm, instance=stored), body)
    if not form.is_valid():
        raise form_problem(form)
    transformer: Transformer = form.save(commit=False)  # type: ignore[attr-defined]
    _through_api(transformer)
    if steps is not None:
        if not isinstance(steps, list):
            raise ApiProblem(422, "The transformer is not valid.", errors={"steps": ["A list of steps."]})
        transformer.steps = steps
    try:
        transformer.full_clean()
    except ValidationError as exc:
        raise ApiProblem(422, "The transformer is not valid.", errors=exc.message_dict) from None
    transformer.save()
    return transformer


def _save_variable(request: HttpRequest, stored: Variable | None, body: dict[str, Any]) -> Variable:
    """As the Environment variables page: the form saves (an encrypted value left out is kept), and a changed
    value under a client's Base URI or Client ID removes that client's secrets and grant."""
    body = dict(body)
    if "value" in body:  # the API's name for the page's "Value" field
        body["new_value"] = body.pop("value")
    form = bind(partial(VariableForm, instance=stored), body)
    if not form.is_valid():
        raise form_problem(form)
    _through_api(form.instance)  # type: ignore[attr-defined]
    variable: Variable = form.save()  # type: ignore[attr-defined]
    return variable


def _client_type(kind: str) -> ClientType:
    try:
        return get_client_type(kind)
    except LookupError:
        raise ApiProblem(422, f"Unknown client type {kind!r}.", errors={"kind": ["Not an installed type."]}) from None


def _save_client(request: HttpRequest, stored: HttpClient | None, body: dict[str, Any]) -> HttpClient:
    """As the HTTP client page: the platform's fields, then the client type's (which keeps or forgets the grant)."""
    own = {k: v for k, v in body.items() if k in ClientForm.base_fields}
    if stored is not None:
        own["kind"] = stored.kind  # the kind of a client never changes
        own.setdefault("name", stored.name)
        own.setdefault("log_requests", stored.log_requests)
    form = bind(ClientForm, own)
    if not form.is_valid():
        raise form_problem(form)
    ctype = _client_type(form.cleaned_data["kind"])
    type_body = {k: v for k, v in body.items() if k not in ClientForm.base_fields}
    type_form = bind(partial(ctype.form, client=stored), type_body)
    if not type_form.is_valid():
        raise form_problem(type_form)
    user = request.user if request.user.is_authenticated else None
    target = stored or HttpClient(kind=ctype.kind, created_by=user)
    target.name = form.cleaned_data["name"]
    target.log_requests = form.cleaned_data["log_requests"]
    _through_api(target)
    with transaction.atomic():
        if ctype.apply(target, cast(forms.Form, type_form)):
            target.forget_grant(ctype.rebound_message)
        target.save()
    return target


RESOURCES = [
    Resource("clients", "HTTP client", HttpClient, schemas.ClientOut,
             schemas.input_schema("ClientIn", ClientForm, doc="The HTTP client form: name, kind (on create), "
                                  "log_requests, and the fields of the client type."),
             _save_client, lambda q: Q(name__icontains=q)),
    Resource("incomings", "Incoming", Incoming, schemas.IncomingOut,
             schemas.input_schema("IncomingIn", IncomingForm, doc="The Incoming form, plus the subscriber's fields."),
             _save_model_form(IncomingForm), lambda q: Q(name__icontains=q) | Q(config__entity__icontains=q)),
    Resource("outgoings", "Outgoing", Outgoing, schemas.OutgoingOut,
             schemas.input_schema("OutgoingIn", OutgoingForm, doc="The Outgoing form, plus the publisher's fields."),
             _save_model_form(OutgoingForm), lambda q: Q(name__icontains=q) | Q(entity__icontains=q)),
    Resource("transformers", "Transformer", Transformer, schemas.TransformerOut,
             schemas.input_schema("TransformerIn", TransformerForm, doc="Name, description and steps (a list of "
                                  "{type, params}), checked like the editor's."),
             _save_transformer, lambda q: Q(name__icontains=q) | Q(description__icontains=q)),
    Resource("routes", "Route", Route, schemas.RouteOut,
             schemas.input_schema("RouteIn", RouteForm, doc="The Route form; transformers as transformer_1 … "
                                  "transformer_N (ids, in order)."),
             _save_route, lambda q: Q(name__icontains=q) | Q(incoming__name__icontains=q)
             | Q(outgoing__name__icontains=q)),
    Resource("variables", "Environment variable", Variable, schemas.VariableOut,
             schemas.input_schema("VariableIn", VariableForm, doc="Name, description, encrypted (on create only) and "
                                  "value (write-only when encrypted: left out, the stored value stays).",
                                  renames={"new_value": "value"}),
             _save_variable, lambda q: Q(name__icontains=q) | Q(description__icontains=q)),
    Resource("webhooks", "Webhook", Webhook, schemas.WebhookOut,
             schemas.input_schema("WebhookIn", WebhookForm, doc="The Webhook form: checks, parser, routes (ids)."),
             _save_webhook, lambda q: Q(name__icontains=q)),
]


def _register(resource: Resource) -> Router:
    router = Router(tags=[resource.path])
    out, body_schema = resource.out, resource.body

    @router.get("", response={200: list[out], **ERRORS}, operation_id=f"list_{resource.path}",  # type: ignore[valid-type]
                summary=f"List {resource.noun}s")
    @viewer_required
    @paginate(LimitOffsetPagination)
    def list_all(request: HttpRequest, q: str = "") -> Any:
        found = resource.queryset()
        return found.filter(resource.search(q.strip())) if q.strip() else found

    @router.get("/{pk}", response={200: out, **ERRORS}, operation_id=f"get_{resource.path}",
                summary=f"Read one {resource.noun}")
    @viewer_required
    def read(request: HttpRequest, pk: int) -> Any:
        return get_for_user(request, resource.queryset(), pk)

    @router.post("", response={201: out, **WRITE_ERRORS}, operation_id=f"create_{resource.path}",
                 summary=f"Create a {resource.noun}")
    @editor_required
    def create(request: HttpRequest, payload: body_schema) -> Any:  # type: ignore[valid-type]
        return Status(201, resource.save(request, None, _body(payload)))

    @router.patch("/{pk}", response={200: out, **WRITE_ERRORS}, operation_id=f"update_{resource.path}",
                  summary=f"Change a {resource.noun} (fields left out keep their values; secrets stay)")
    @editor_required
    def update(request: HttpRequest, pk: int, payload: body_schema) -> Any:  # type: ignore[valid-type]
        stored = get_for_user(request, resource.queryset(), pk, write=True)
        return resource.save(request, stored, _body(payload))

    @router.delete("/{pk}", response={200: Deleted, **WRITE_ERRORS}, operation_id=f"delete_{resource.path}",
                   summary=f"Delete a {resource.noun} (refused while something uses it)")
    @editor_required
    def delete(request: HttpRequest, pk: int) -> Any:
        stored = get_for_user(request, resource.queryset(), pk, write=True)
        _delete(stored)
        return {"id": pk}

    return router


def _body(payload: schemas.FormBody) -> dict[str, Any]:
    return {**payload.model_dump(exclude_unset=True), **(payload.model_extra or {})}


def _delete(obj: Any) -> None:
    """Delete like the pages: not a route while it runs, nothing still in use (the database protects)."""
    if isinstance(obj, Route) and obj.active_run() is not None:
        raise ApiProblem(409, f"{obj} is running; wait until its run ends.")
    if isinstance(obj, HttpClient) and obj.dependents():
        names = ", ".join(f"{d.label} “{o}”" for d in obj.dependents() for o in d.examples)
        raise ApiProblem(409, f"“{obj}” is used by {names}: change or delete those first.")
    if isinstance(obj, Variable) and usages().get(obj.name):
        names = ", ".join(f"{u.kind} “{u.name}”" for u in usages()[obj.name][:5])
        raise ApiProblem(409, f"Variable {obj.name} is used by {names}: change those first.")
    if isinstance(obj, Incoming) and obj.routes.exists():
        names = ", ".join(map(str, obj.routes.all()))
        raise ApiProblem(409, f"Incoming {obj} is used by route(s) {names}; remove it from them first.")
    _through_api(obj)
    try:
        obj.delete()
    except (ProtectedError, RestrictedError) as exc:
        used = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        raise ApiProblem(409, f"“{obj}” is still used by " + ", ".join(str(o) for o in list(used)[:10]) + ".") from None


for _resource in RESOURCES:
    api.add_router(f"/{_resource.path}", _register(_resource))


# --- client status and quota ------------------------------------------------------------------------------


@api.get("/clients/{pk}/status", response={200: schemas.ClientStatusOut, **ERRORS}, tags=["clients"],
         summary="Grant status, token expiry and API quota of an HTTP client")
@viewer_required
def client_status(request: HttpRequest, pk: int) -> dict[str, Any]:
    client = get_for_user(request, HttpClient.objects.select_related("grant"), pk)
    grant = client.grant_or_none
    return {"id": client.pk, "status": client.status, "status_message": client.status_message,
            "connected_as": client.connected_as, "token_expires_at": grant.expires_at if grant else None,
            "granted_at": grant.granted_at if grant else None, "quotas": [asdict(q) for q in client.quotas()]}


# --- runs -------------------------------------------------------------------------------------------------


class RunFilters(Schema):
    route: int | None = None
    status: str | None = None


@api.post("/routes/{pk}/runs", response={202: schemas.RouteRunOut, **WRITE_ERRORS}, tags=["runs"],
          summary="Start a run of a route (Run now); 409 while one is going")
@editor_required
def start_run(request: HttpRequest, pk: int) -> Any:
    route = get_for_user(request, Route, pk, write=True)
    try:
        route_run = routing.start_route_run(route, trigger=TriggerSource.MANUAL, user=request.user)
    except routing.RouteBusy as busy:
        raise ApiProblem(409, f"Not started: {busy}") from None
    record(AuditEntry.Action.RUN, obj=route, request=request, message=f"Run {route_run.pk} started through the API")
    return Status(202, route_run)


@api.get("/runs", response={200: list[schemas.RouteRunOut], **ERRORS}, tags=["runs"],
         summary="List runs of routes, newest first")
@viewer_required
@paginate(LimitOffsetPagination)
def list_runs(request: HttpRequest, filters: Query[RunFilters]) -> Any:
    runs = RouteRun.objects.order_by("-created_at", "-pk")
    if filters.route is not None:
        runs = runs.filter(route_id=filters.route)
    if filters.status in RouteRun.Status.values:
        runs = runs.filter(status=filters.status)
    return runs


@api.get("/runs/{pk}", response={200: schemas.RouteRunOut, **ERRORS}, tags=["runs"], summary="Read one run")
@viewer_required
def get_run(request: HttpRequest, pk: int) -> Any:
    return get_for_user(request, RouteRun, pk)


# --- tasks ------------------------------------------------------------------------------------------------


class TaskFilters(Schema):
    """The Tasks page's filter bar, with the same meaning (``connections.views.tasks.filtered_tasks``)."""

    find: str = ""
    scope: str = ""
    route: str = ""
    run: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    identifier: str = ""
    q: str = ""


assert set(TaskFilters.model_fields) == set(FILTER_KEYS), "the API's task filters are the page's"


class TaskResult(Schema):
    id: int
    status: str
    done: bool
    message: str


class TaskPagination(LimitOffsetPagination):
    """The Tasks page's way through a million tasks: the count exact up to ``DASH_TASK_COUNT_CAP`` per status
    (the database's estimate above it, ``count_exact`` false), a page's ids first, then its rows."""

    class Output(Schema):
        items: list[Any]
        count: int
        count_exact: bool

    def paginate_queryset(self, queryset: Any, pagination: Any, request: HttpRequest, **params: Any) -> Any:
        status = params["filters"].status
        counts = count_by_status(queryset, [status] if status in Task.Status.values else None)
        offset, limit = pagination.offset, min(pagination.limit, self.max_limit)
        ids = list(queryset.values_list("pk", flat=True)[offset:offset + limit])
        rows = {task.pk: task for task in queryset.filter(pk__in=ids)}
        return {"items": [rows[pk] for pk in ids if pk in rows], "count": sum(c.value for c in counts.values()),
                "count_exact": all(c.exact for c in counts.values())}


@api.get("/tasks", response={200: list[schemas.TaskOut], **ERRORS}, tags=["tasks"],
         summary="List tasks with the Tasks page's filters, newest first")
@viewer_required
@paginate(TaskPagination)
def list_tasks(request: HttpRequest, filters: Query[TaskFilters]) -> Any:
    return (filtered_tasks(filters.model_dump()).defer("data", "transformed", "request", "response", "log")
            .order_by("-created_at", "-pk"))


@api.get("/tasks/{pk}", response={200: schemas.TaskDetailOut, **ERRORS}, tags=["tasks"],
         summary="Read one task with its data at each stage and its log")
@viewer_required
def get_task(request: HttpRequest, pk: int) -> Any:
    return get_for_user(request, Task, pk)


@api.post("/tasks/{pk}/retry", response={200: TaskResult, **WRITE_ERRORS}, tags=["tasks"],
          summary="Queue a failed, skipped or waiting task again")
@editor_required
def retry_task(request: HttpRequest, pk: int) -> Any:
    task = get_for_user(request, Task, pk, write=True)
    if task.status not in Task.RETRYABLE:
        raise ApiProblem(409, f"Task {task.pk} is {task.get_status_display()}: nothing to retry.")
    queued, _orphans = routing.requeue_tasks([task], message=f"Retry requested by {request.user} (API).")
    if not queued:
        raise ApiProblem(409, f"Task {task.pk} belongs to no route: it cannot be published.")
    task.refresh_from_db()
    record(AuditEntry.Action.API, obj=task, request=request, message="Retry requested through the API")
    return {"id": task.pk, "status": task.status, "done": True, "message": f"Task {task.pk} queued again."}


@api.post("/tasks/{pk}/skip", response={200: TaskResult, **WRITE_ERRORS}, tags=["tasks"],
          summary="Skip a waiting or failed task")
@editor_required
def skip_task(request: HttpRequest, pk: int) -> Any:
    task = get_for_user(request, Task, pk, write=True)
    if not routing.skip_task(task, user=request.user):
        raise ApiProblem(409, f"Task {task.pk} is {task.get_status_display()}: it cannot be skipped.")
    record(AuditEntry.Action.API, obj=task, request=request, message="Skipped through the API")
    return {"id": task.pk, "status": task.status, "done": True, "message": f"Task {task.pk} skipped."}


# --- export and import (configuration as code) ------------------------------------------------------------


class ExportFilters(Schema):
    format: Literal["json", "yaml"] = "json"
    routes: list[str] = PydanticField(default_factory=list,
                                      description="Route names; none: everything. Each route brings what it uses.")


class ImportOptions(Schema):
    dry_run: bool = PydanticField(True, description="true (default): report only; false: apply all or nothing.")


class ImportObject(Schema):
    section: str
    key: str
    action: str
    changes: list[dict[str, Any]]
    problems: list[str]


class ImportReport(Schema):
    """The import's plan (``configuration.importer.ImportPlan.as_dict``): per object create / update (with its
    changes) / unchanged / conflict / invalid / missing; ``ok``: it can be applied."""

    ok: bool
    applied: bool
    counts: dict[str, int]
    errors: list[str]
    missing: list[str]
    to_enter: list[str]
    objects: list[ImportObject]


class ImportRefusedProblem(Problem):
    plan: ImportReport


IMPORT_BODY = {"requestBody": {"required": True, "description": "An export document (JSON or YAML), as "
                               "`GET /export` gives it.", "content": {
                                   "application/json": {"schema": {"type": "object"}},
                                   "application/yaml": {"schema": {"type": "string"}}}}}


@api.get("/export", response={200: dict[str, Any], **ERRORS}, tags=["configuration"],
         summary="Export configurations as one document (no secrets; variables by name only)")
@editor_required
def export(request: HttpRequest, filters: Query[ExportFilters]) -> Any:
    from configuration.documents import dump_document
    from configuration.export import export_config

    document = export_config({"routes": filters.routes} if filters.routes else None)
    if filters.format == "yaml":
        return HttpResponse(dump_document(document, "yaml"), content_type="application/yaml")
    return document


@api.post("/import", response={200: ImportReport, 413: Problem, 422: ImportRefusedProblem, **ERRORS},
          tags=["configuration"], openapi_extra=IMPORT_BODY,
          summary="Import a document: a dry run by default; with dry_run=false, applied all or nothing")
@editor_required
def import_document(request: HttpRequest, options: Query[ImportOptions]) -> Any:
    from configuration.importer import ImportRefused, apply_import, plan_import

    limit = settings.CONFIG_IMPORT_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        raise ApiProblem(413, f"The document is larger than {limit // 1_000_000} MB: nothing was read.")
    text = request.read(limit + 1)  # the stream, not request.body: no separate upload limit applies
    plan = plan_import(text)
    if options.dry_run:
        return plan.as_dict()
    try:
        applied = apply_import(plan)
    except ImportRefused as refused:
        return problem(request, 422, str(refused), plan=refused.plan.as_dict())
    return applied.as_dict()


def _document_roles() -> None:
    """Name each operation's role in the document (``x-required-role`` and its description), read from the role
    decorator it carries: the document cannot drift from the check. An operation without one fails here."""
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                role = getattr(operation.view_func, "required_role", None)
                if role is None:
                    raise ImproperlyConfigured(f"API operation {operation.view_func.__name__} declares no role")
                operation.openapi_extra = {**(operation.openapi_extra or {}), "x-required-role": role.label}
                operation.description = f"Role: {role.label} or higher."


_document_roles()


def api_urls() -> Any:
    """The API's URL patterns, reachable without a session: the token (or nothing, for the docs) decides."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False  # type: ignore[union-attr]
    return patterns, app_name, namespace

