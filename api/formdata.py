"""JSON bodies through the product's own forms: an API write is validated exactly as the page's form would.

The body is laid over what the page's form shows before anyone types: the defaults of a new object (as a
browser would post them), or the stored values of an object (PATCH), so fields left out keep their values.
Secret fields are never shown back by the forms, so leaving one out keeps the stored secret, as on the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms

from .problems import ApiProblem

__all__ = ["bind", "form_problem"]


def _multiple(field: forms.Field) -> bool:
    return isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField)


def _as_posted(field: forms.Field, value: Any) -> Any:
    """A JSON value as the form's widget would have received it."""
    if _multiple(field):
        return [str(v) for v in value] if isinstance(value, list) else value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    return value


def _shown(form: forms.BaseForm) -> dict[str, Any]:
    """The values an unbound form shows for its object (its initial data, as posted back unchanged)."""
    values: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                values[name] = "on"
            continue
        if isinstance(value, list | tuple) and not _multiple(field):
            value = json.dumps(value, ensure_ascii=False)
        values[name] = _as_posted(field, value)
    return values


def bind(make: Callable[..., forms.BaseForm], body: dict[str, Any]) -> forms.BaseForm:
    """The form ``make(data=...)`` builds, bound to ``body`` over what the unbound form shows (the stored values
    of an object, or the defaults of a new one)."""
    if not isinstance(body, dict):
        raise ApiProblem(422, "The body must be a JSON object of the form's fields.")
    probe = make()
    data = _shown(probe)
    known = set(probe.fields)
    # Fields the form adds for a choice in the body (a subscriber's, a publisher's) are found on a second look.
    probe = make(data={**data, **{k: v for k, v in body.items() if not isinstance(v, dict | list)}})
    known |= set(probe.fields)
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiProblem(422, "Unknown fields: " + ", ".join(unknown) + ".",
                         errors={name: ["Not a field of this form."] for name in unknown})
    for name, value in body.items():
        field = probe.fields[name]
        if isinstance(field, forms.BooleanField):
            if value in (True, "true", "on", 1):
                data[name] = "on"
            else:
                data.pop(name, None)
        else:
            data[name] = _as_posted(field, value)
    return make(data=data)


def form_problem(form: forms.BaseForm, detail: str = "The configuration is not valid.") -> ApiProblem:
    """The form's errors as a 422 problem (field → messages; ``__all__`` for the form's own)."""
    return ApiProblem(422, detail, errors={name: [str(m) for m in messages] for name, messages in form.errors.items()})
