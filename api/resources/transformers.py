"""Transformers (``/transformers``): chains of steps, checked like the editor's."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest

from connections.forms.transformers import TransformerForm
from connections.models import Transformer

from .. import schemas
from ..formdata import bind, form_problem
from ..problems import ApiProblem
from .crud import Resource, crud_router, through_api


def _save_transformer(request: HttpRequest, stored: Transformer | None, body: dict[str, Any]) -> Transformer:
    """The name and description through the page's form; the steps, as JSON, through the model's own check."""
    body = dict(body)
    steps = body.pop("steps", None)
    form = bind(partial(TransformerForm, instance=stored), body)
    if not form.is_valid():
        raise form_problem(form)
    transformer: Transformer = form.save(commit=False)  # type: ignore[attr-defined]
    through_api(transformer)
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


RESOURCE = Resource("transformers", "Transformer", Transformer, schemas.TransformerOut,
                    schemas.input_schema("TransformerIn", TransformerForm, doc="Name, description and steps (a list "
                                         "of {type, params}), checked like the editor's."),
                    _save_transformer, lambda q: Q(name__icontains=q) | Q(description__icontains=q))
router = crud_router(RESOURCE)
