"""HTTP client pages: list, create, edit, detail, duplicate, delete, test connection, revoke, division."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from configuration.variables import UnknownVariable, names_in, report_unknown, resolve, resolved
from dashboard.access import AuthedRequest, can_edit, editor_required, is_admin, viewer_required
from lib.htmx import is_htmx
from lib.naming import free_copy_name

from ..forms import ClientForm, DivisionForm, client_initial
from ..models import AuthEvent, HttpClient
from ..registry import ClientType, TestResult, get_client_type, registered_types
from .common import client_type_of, get_client_for_user

__all__ = [
    "client_create",
    "client_delete",
    "client_detail",
    "client_duplicate",
    "client_edit",
    "client_list",
    "client_revoke",
    "client_set_division",
    "client_test_connection",
]

PAGE_SIZE = 25
SORTS = {"name", "-name", "status", "-status", "updated_at", "-updated_at", "kind", "-kind"}


@viewer_required
def client_list(request: HttpRequest) -> HttpResponse:
    clients = HttpClient.objects.select_related("created_by", "grant")
    q = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if q:
        clients = clients.filter(Q(name__icontains=q) | Q(config__client_id__icontains=q))
    if status in HttpClient.Status.values:
        clients = clients.filter(status=status)
    sort = request.GET.get("sort", "name")
    clients = clients.order_by(sort if sort in SORTS else "name", "pk")
    page = Paginator(clients, PAGE_SIZE).get_page(request.GET.get("page"))
    connected_as = HttpClient.connected_as_by_client(page)
    return render(request, "clients/list.html", {
        "page": page, "rows": [(client, connected_as[client.pk]) for client in page],
        "q": q, "status": status, "sort": sort, "statuses": HttpClient.Status.choices,
        "filtered": bool(q or status),
    })


def _chosen_type(kind: str | None) -> ClientType | None:
    if kind:
        try:
            return get_client_type(kind)
        except LookupError:
            return None
    types = registered_types()
    return types[0] if types else None


def _render_form(request: HttpRequest, *, client: HttpClient | None, form: ClientForm, type_form: Any,
                 ctype: ClientType | None, status: int = 200) -> HttpResponse:
    context = {"client": client, "form": form, "type_form": type_form, "client_type": ctype,
               "copy_fields": ctype.copy_fields() if ctype else []}
    if is_htmx(request) and request.method == "GET" and "kind" in request.GET:
        return render(request, "clients/_type_fields.html", context)  # the kind select swapped the field block
    return render(request, "clients/form.html", context, status=status)


def _save_form(request: AuthedRequest, client: HttpClient | None) -> HttpResponse:
    editing = client is not None
    initial = client_initial(client) if client else {}
    if request.method != "POST":
        kind = request.GET.get("kind") or (client.kind if client else None)
        ctype = _chosen_type(kind)
        form = ClientForm(initial={**initial, **({"kind": ctype.kind} if ctype else {})})
        type_form = ctype.form(client=client) if ctype else None
        return _render_form(request, client=client, form=form, type_form=type_form, ctype=ctype)
    kind = client.kind if client is not None else request.POST.get("kind")  # the kind of a client never changes
    form = ClientForm({**request.POST.dict(), "kind": kind})
    ctype = _chosen_type(kind)
    type_form = ctype.form(request.POST, client=client) if ctype else None
    if ctype is None or not form.is_valid() or type_form is None or not type_form.is_valid() \
            or not _variables_check_out(request, ctype, client, type_form):
        return _render_form(request, client=client, form=form, type_form=type_form, ctype=ctype, status=400)
    target = client or HttpClient(kind=ctype.kind, created_by=request.user)
    target.name = form.cleaned_data["name"]
    target.log_requests = form.cleaned_data["log_requests"]
    with transaction.atomic():
        rebound = ctype.apply(target, type_form)
        if rebound:
            target.forget_grant(ctype.rebound_message)
        target.save()
    messages.success(request, f"HTTP client “{target.name}” {'saved' if editing else 'created'}."
                     + (f" {ctype.rebound_message}" if rebound else ""))
    return redirect("clients:detail", target.pk)


def _variables_check_out(request: HttpRequest, ctype: ClientType, client: HttpClient | None,
                         type_form: forms.Form) -> bool:
    """``${NAME}`` in the type's fields: every name must exist, and the form must also be valid with the values
    filled in (a Base URI variable must hold a URL). The references are what is stored."""
    posted = {key: request.POST.getlist(key) for key in request.POST}
    if not names_in(posted):
        return True
    if report_unknown(type_form, posted):
        return False
    values = QueryDict(mutable=True)
    for key, items in resolve(posted).items():
        values.setlist(key, items)
    checked = ctype.form(values, client=client)
    if checked.is_valid():
        return True
    for field, errors in checked.errors.items():
        for error in errors:
            type_form.add_error(None, f"With the variables' values: {field}: {error}" if field != "__all__"
                                else f"With the variables' values: {error}")
    return False


@editor_required
def client_create(request: AuthedRequest) -> HttpResponse:
    return _save_form(request, None)


@editor_required
def client_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    return _save_form(request, get_client_for_user(request, pk, write=True))


def _detail_context(request: HttpRequest, client: HttpClient, ctype: ClientType) -> dict[str, Any]:
    context: dict[str, Any] = {
        "client": client,
        "client_type": ctype,
        "summary": ctype.summary(client),
        "copy_fields": ctype.copy_fields(),
        "can_edit": can_edit(request.user),
        "is_admin": is_admin(request.user),
        "type_context": ctype.detail_context(client),
        "can_grant": ctype.supports_grant and ctype.grantable(client),
    }
    if ctype.divisions(client):
        context["division_form"] = DivisionForm(client_type=ctype, client=client,
                                                initial={"division": ctype.default_division(client)})
    if context["is_admin"]:
        context["auth_events"] = AuthEvent.objects.filter(client=client).select_related("user")[:8]
    return context


@viewer_required
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk)
    ctype = client_type_of(client)
    return render(request, "clients/detail.html", _detail_context(request, client, ctype))


@editor_required
@require_POST
def client_duplicate(request: AuthedRequest, pk: int) -> HttpResponse:
    source = get_client_for_user(request, pk, write=True)
    # The copy gets the settings, not the secrets: whoever edits it enters them (and cannot aim a copied
    # secret at an address of their own).
    copy = HttpClient.objects.create(
        name=free_copy_name(HttpClient.objects.all(), source.name), kind=source.kind,
        config=dict(source.config or {}), log_requests=source.log_requests, created_by=request.user,
    )
    messages.success(request, f"Duplicated as “{copy.name}”. Enter its secrets, then grant access to use it.")
    return redirect("clients:edit", copy.pk)


@editor_required
def client_delete(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk, write=True)
    dependents = client.dependents()
    if request.method == "POST":
        if dependents:
            names = ", ".join(f"{d.label} “{obj}”" for d in dependents for obj in d.examples)
            messages.error(request, f"“{client.name}” is used by {names}: change or delete those first.")
            return redirect("clients:delete", client.pk)
        name = client.name
        try:
            client.delete()
        except (ProtectedError, RestrictedError) as exc:
            used = ", ".join(str(obj) for obj in list(exc.protected_objects if isinstance(exc, ProtectedError)
                                                      else exc.restricted_objects)[:10])
            messages.error(request, f"“{name}” is still used by {used}.")
            return redirect("clients:delete", pk)
        messages.success(request, f"HTTP client “{name}” deleted.")
        return redirect("clients:list")
    return render(request, "clients/delete.html", {"client": client, "dependents": dependents})


@editor_required
@require_POST
def client_test_connection(request: AuthedRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk, write=True)
    ctype = client_type_of(client)
    try:
        result = ctype.test_connection(resolved(client), user=request.user)
    except NotImplementedError:
        result = TestResult(ok=False, message="This client type has no connection test.")
    except UnknownVariable as exc:
        result = TestResult(ok=False, message=str(exc))
    client.refresh_from_db()
    if is_htmx(request):
        return render(request, "clients/_test_result.html", {"result": result, "client": client})
    (messages.success if result.ok else messages.error)(request, result.message)
    context = _detail_context(request, client, ctype)
    context["test_result"] = result
    return render(request, "clients/detail.html", context)


@editor_required
@require_POST
def client_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk, write=True)
    message = client_type_of(client).revoke(resolved(client), user=request.user)
    messages.success(request, message)
    return redirect("clients:detail", client.pk)


@editor_required
@require_POST
def client_set_division(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request, pk, write=True)
    ctype = client_type_of(client)
    form = DivisionForm(request.POST, client_type=ctype, client=client)
    if not form.is_valid():
        messages.error(request, "Choose one of the divisions this grant can reach.")
        return redirect("clients:detail", client.pk)
    messages.success(request, ctype.set_division(client, form.cleaned_data["division"]))
    return redirect("clients:detail", client.pk)
