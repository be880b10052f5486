"""The Exact Online part of an HTTP Client page: webhook subscriptions (subscribe, list, delete) at Exact."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from clients.models import HttpClient
from dashboard.access import editor_required, get_for_user

from .client_type import KIND
from .errors import ExactError
from .models import access_of
from .webhooks import list_subscriptions, subscribe, topic_choices, unsubscribe

__all__ = ["webhooks_delete", "webhooks_refresh", "webhooks_subscribe"]


def get_exact_client_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> HttpClient:
    """An Exact Online client the user may see (and change, with ``write``)."""
    return get_for_user(request, HttpClient.objects.filter(kind=KIND), pk, write=write)


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().lstrip("-").isdigit()]


@editor_required
@require_POST
def webhooks_subscribe(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_exact_client_for_user(request, pk, write=True)
    allowed = set(topic_choices())
    topics = [t for t in request.POST.getlist("topics") if t in allowed]
    access = access_of(client)
    known = set(access.division_codes()) if access is not None else set()
    divisions = [d for d in _ints(request.POST.getlist("divisions")) if d in known]
    if not topics or not divisions:
        messages.error(request, "Choose at least one topic and one division to subscribe to.")
        return redirect(client)
    if not client.get_secret("webhook_secret"):
        messages.error(request, "Set the app's Webhook secret on this client first: without it no event can be "
                                "verified, and every one would be refused.")
        return redirect(client)
    try:
        hook, notes = subscribe(client, topics, divisions)
    except ExactError as exc:
        messages.error(request, f"Exact Online refused: {exc.message}")
        return redirect(client)
    messages.success(request, "Webhooks: " + "; ".join(notes) + f". Events arrive at {hook.url}.")
    return redirect(client)


@editor_required
@require_POST
def webhooks_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_exact_client_for_user(request, pk, write=True)
    try:
        rows = list_subscriptions(client)
    except ExactError as exc:
        messages.error(request, f"Exact Online refused: {exc.message}")
    else:
        messages.success(request, f"Exact Online has {len(rows)} webhook subscription(s) for this app.")
    return redirect(client)


@editor_required
@require_POST
def webhooks_delete(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_exact_client_for_user(request, pk, write=True)
    division = _ints([request.POST.get("division", "")])
    try:
        unsubscribe(client, division[0] if division else 0, request.POST.get("subscription", ""))
    except ValueError:
        messages.error(request, "That is not a subscription id.")
    except ExactError as exc:
        messages.error(request, f"Exact Online refused: {exc.message}")
    else:
        messages.success(request, "Subscription deleted at Exact Online.")
    return redirect(client)
