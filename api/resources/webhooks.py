"""Webhooks (``/webhooks``): endpoints that take deliveries and feed routes."""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from webhooks.forms import WebhookForm
from webhooks.models import Webhook

from .. import schemas
from .crud import Resource, crud_router, save_model_form


def _save_webhook(request: HttpRequest, stored: Webhook | None, body: dict[str, Any]) -> Webhook:
    return save_model_form(WebhookForm, lambda form, hook: form.save_routes(hook))(request, stored, body)


RESOURCE = Resource("webhooks", "Webhook", Webhook, schemas.WebhookOut,
                    schemas.input_schema("WebhookIn", WebhookForm,
                                         doc="The Webhook form: checks, parser, routes (ids)."),
                    _save_webhook, lambda q: Q(name__icontains=q))
router = crud_router(RESOURCE)
