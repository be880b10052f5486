"""Environment variables (``/variables``): named values the configurations refer to, some encrypted."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from functools import partial
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from configuration.forms import VariableForm
from configuration.models import Variable
from configuration.variables import usages

from .. import schemas
from ..formdata import bind, form_problem
from ..problems import ApiProblem
from .crud import Resource, crud_router, through_api


def _save_variable(request: HttpRequest, stored: Variable | None, body: dict[str, Any]) -> Variable:
    """As the Environment variables page: the form saves (an encrypted value left out is kept), and a changed
    value under a client's Base URI or Client ID removes that client's secrets and grant."""
    body = dict(body)
    if "value" in body:  # the API's name for the page's "Value" field
        body["new_value"] = body.pop("value")
    form = bind(partial(VariableForm, instance=stored), body)
    if not form.is_valid():
        raise form_problem(form)
    through_api(form.instance)  # type: ignore[attr-defined]
    variable: Variable = form.save()  # type: ignore[attr-defined]
    return variable


def _refuse_delete(variable: Variable) -> None:
    if usages().get(variable.name):
        names = ", ".join(f"{u.kind} “{u.name}”" for u in usages()[variable.name][:5])
        raise ApiProblem(409, f"Variable {variable.name} is used by {names}: change those first.")


RESOURCE = Resource("variables", "Environment variable", Variable, schemas.VariableOut,
                    schemas.input_schema("VariableIn", VariableForm, doc="Name, description, encrypted (on create "
                                         "only) and value (write-only when encrypted: left out, the stored value "
                                         "stays).", renames={"new_value": "value"}),
                    _save_variable, lambda q: Q(name__icontains=q) | Q(description__icontains=q), _refuse_delete)
router = crud_router(RESOURCE)
