"""Routes (``/routes``): an Incoming, its transformers in order, an Outgoing. Their runs: ``api.resources.runs``."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from connections.forms.routes import RouteForm
from connections.models import Route

from .. import schemas
from ..problems import ApiProblem
from .crud import Resource, crud_router, save_model_form


def _save_route(request: HttpRequest, stored: Route | None, body: dict[str, Any]) -> Route:
    return save_model_form(RouteForm, lambda form, route: route.set_transformers(form.ordered_transformers()))(
        request, stored, body)


def _refuse_delete(route: Route) -> None:
    if route.active_run() is not None:
        raise ApiProblem(409, f"{route} is running; wait until its run ends.")


RESOURCE = Resource("routes", "Route", Route, schemas.RouteOut,
                    schemas.input_schema("RouteIn", RouteForm, doc="The Route form; transformers as transformer_1 … "
                                         "transformer_N (ids, in order)."),
                    _save_route, lambda q: Q(name__icontains=q) | Q(incoming__name__icontains=q)
                    | Q(outgoing__name__icontains=q), _refuse_delete)
router = crud_router(RESOURCE)
