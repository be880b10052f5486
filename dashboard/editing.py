"""The one create/edit flow of the configuration pages (a ModelForm on its own page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

__all__ = ["create_or_edit"]


def create_or_edit(request: HttpRequest, form: ModelForm[Any], *, template: str, noun: str, instance: Model | None,
                   context_name: str) -> HttpResponse:
    """A valid POST saves (a new object records who created it) and goes to the object's page with a message;
    an invalid one shows the form again with status 400; a GET shows the form. ``context_name`` is what the
    template calls the object (None while creating)."""
    if request.method == "POST":
        if form.is_valid():
            obj = form.save(commit=False)
            if instance is None and hasattr(obj, "created_by_id"):
                obj.created_by = request.user
            obj.save()
            form.save_m2m()
            messages.success(request, f"{noun} {obj} {'created' if instance is None else 'saved'}.")
            return redirect(obj)
        return render(request, template, {"form": form, context_name: instance}, status=400)
    return render(request, template, {"form": form, context_name: instance})
