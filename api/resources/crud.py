"""The five operations every configuration resource has (list, read, create, update, delete), built from a
``Resource``: its model, its answer schema, its page's form as the body, how it saves and what it searches.

Each resource module (``clients``, ``incomings``, ``routes``, ...) declares its ``Resource`` and gets its router
from ``crud_router``; it adds its own operations to that router.
"""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django import forms
from django.db import models, transaction
from django.db.models import ProtectedError, Q, RestrictedError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from audit.recording import API_REASON
from dashboard.access import editor_required, get_for_user, viewer_required

from .. import schemas
from ..formdata import bind, form_problem
from ..problems import ApiProblem
from ..schemas import ERRORS, WRITE_ERRORS

__all__ = ["Deleted", "Resource", "crud_router", "save_model_form", "through_api"]


class Deleted(Schema):
    id: int
    deleted: bool = True


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
    # Raises ApiProblem(409) while the object may not be deleted (in use, running), as its page refuses.
    refuse_delete: Callable[[Any], None] | None = None

    def queryset(self) -> models.QuerySet[Any]:
        return self.model._default_manager.order_by("name", "pk")


def through_api(obj: Any) -> None:
    """The audit trail's entry for this save or delete (a version, by django-simple-history) says "through the API"."""
    obj._change_reason = API_REASON


def save_model_form(form_class: type[forms.ModelForm], after: Callable[[Any, Any], None] | None = None
                    ) -> Callable[[HttpRequest, Any, dict[str, Any]], Any]:
    """Save through ``form_class`` like the page: ``created_by`` on create, ``after(form, obj)`` for the rest."""

    def save(request: HttpRequest, stored: Any, body: dict[str, Any]) -> Any:
        form = bind(partial(form_class, instance=stored), body)
        if not form.is_valid():
            raise form_problem(form)
        with transaction.atomic():
            obj = form.save(commit=False)  # type: ignore[attr-defined]
            through_api(obj)
            if stored is None and hasattr(obj, "created_by"):
                obj.created_by = request.user
            obj.save()
            form.save_m2m()  # type: ignore[attr-defined]
            if after is not None:
                after(form, obj)
        return obj

    return save


def crud_router(resource: Resource) -> Router:
    """A router (mounted at the API's root) with ``/<path>`` and ``/<path>/{pk}``, tagged with the path."""
    router = Router(tags=[resource.path])
    out, body_schema = resource.out, resource.body

    @router.get(f"/{resource.path}", response={200: list[out], **ERRORS},  # type: ignore[valid-type]
                operation_id=f"list_{resource.path}", summary=f"List {resource.noun}s")
    @viewer_required
    @paginate(LimitOffsetPagination)
    def list_all(request: HttpRequest, q: str = "") -> Any:
        found = resource.queryset()
        return found.filter(resource.search(q.strip())) if q.strip() else found

    @router.get(f"/{resource.path}/{{pk}}", response={200: out, **ERRORS}, operation_id=f"get_{resource.path}",
                summary=f"Read one {resource.noun}")
    @viewer_required
    def read(request: HttpRequest, pk: int) -> Any:
        return get_for_user(request, resource.queryset(), pk)

    @router.post(f"/{resource.path}", response={201: out, **WRITE_ERRORS}, operation_id=f"create_{resource.path}",
                 summary=f"Create a {resource.noun}")
    @editor_required
    def create(request: HttpRequest, payload: body_schema) -> Any:  # type: ignore[valid-type]
        return Status(201, resource.save(request, None, _body(payload)))

    @router.patch(f"/{resource.path}/{{pk}}", response={200: out, **WRITE_ERRORS},
                  operation_id=f"update_{resource.path}",
                  summary=f"Change a {resource.noun} (fields left out keep their values; secrets stay)")
    @editor_required
    def update(request: HttpRequest, pk: int, payload: body_schema) -> Any:  # type: ignore[valid-type]
        stored = get_for_user(request, resource.queryset(), pk, write=True)
        return resource.save(request, stored, _body(payload))

    @router.delete(f"/{resource.path}/{{pk}}", response={200: Deleted, **WRITE_ERRORS},
                   operation_id=f"delete_{resource.path}",
                   summary=f"Delete a {resource.noun} (refused while something uses it)")
    @editor_required
    def delete(request: HttpRequest, pk: int) -> Any:
        stored = get_for_user(request, resource.queryset(), pk, write=True)
        _delete(resource, stored)
        return {"id": pk}

    return router


def _body(payload: schemas.FormBody) -> dict[str, Any]:
    return {**payload.model_dump(exclude_unset=True), **(payload.model_extra or {})}


def _delete(resource: Resource, obj: Any) -> None:
    """Delete like the pages: not while the resource refuses (in use, running), nothing the database protects."""
    if resource.refuse_delete is not None:
        resource.refuse_delete(obj)
    through_api(obj)
    try:
        obj.delete()
    except (ProtectedError, RestrictedError) as exc:
        used = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        raise ApiProblem(409, f"“{obj}” is still used by " + ", ".join(str(o) for o in list(used)[:10]) + ".") from None
