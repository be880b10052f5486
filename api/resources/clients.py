"""HTTP clients: the configuration (``/clients``) and each one's grant status and API quota."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from dataclasses import asdict
from functools import partial
from typing import Any, cast

from django import forms
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from clients.forms import ClientForm
from clients.models import HttpClient
from clients.registry import ClientType, get_client_type
from dashboard.access import get_for_user, viewer_required

from .. import schemas
from ..formdata import bind, form_problem
from ..problems import ApiProblem
from ..schemas import ERRORS
from .crud import Resource, crud_router, through_api


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
    through_api(target)
    with transaction.atomic():
        if ctype.apply(target, cast(forms.Form, type_form)):
            target.forget_grant(ctype.rebound_message)
        target.save()
    return target


def _refuse_delete(client: HttpClient) -> None:
    if client.dependents():
        names = ", ".join(f"{d.label} “{o}”" for d in client.dependents() for o in d.examples)
        raise ApiProblem(409, f"“{client}” is used by {names}: change or delete those first.")


RESOURCE = Resource("clients", "HTTP client", HttpClient, schemas.ClientOut,
                    schemas.input_schema("ClientIn", ClientForm, doc="The HTTP client form: name, kind (on create), "
                                         "log_requests, and the fields of the client type."),
                    _save_client, lambda q: Q(name__icontains=q), _refuse_delete)
router = crud_router(RESOURCE)


@router.get("/clients/{pk}/status", response={200: schemas.ClientStatusOut, **ERRORS}, tags=["clients"],
            summary="Grant status, token expiry and API quota of an HTTP client")
@viewer_required
def client_status(request: HttpRequest, pk: int) -> dict[str, Any]:
    client = get_for_user(request, HttpClient.objects.select_related("grant"), pk)
    grant = client.grant_or_none
    return {"id": client.pk, "status": client.status, "status_message": client.status_message,
            "connected_as": client.connected_as, "token_expires_at": grant.expires_at if grant else None,
            "granted_at": grant.granted_at if grant else None, "quotas": [asdict(q) for q in client.quotas()]}
