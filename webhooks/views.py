"""Connections → Webhooks: list, create, edit, delete; recent deliveries (body redacted), Replay, Send test."""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from connections.models import RouteRun, Task
from dashboard.access import AuthedRequest, can_edit, editor_required, get_for_user, viewer_required

from .forms import WebhookForm
from .kinds import get_kind
from .models import Delivery, Rejection, Webhook, new_token
from .processing import accept, replay

__all__ = ["delivery_detail", "delivery_replay", "webhook_create", "webhook_delete", "webhook_deliveries",
           "webhook_detail", "webhook_edit", "webhook_list", "webhook_new_url", "webhook_send_test"]


def get_webhook_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Webhook:
    return get_for_user(request, Webhook, pk, write=write)


@viewer_required
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    hooks = Webhook.objects.order_by("name").annotate(
        delivery_count=Count("deliveries", distinct=True),
        failed_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED), distinct=True),
    )
    if q:
        hooks = hooks.filter(name__icontains=q)
    page = Paginator(hooks, 50).get_page(request.GET.get("page"))
    refused = dict(Rejection.objects.filter(webhook__in=list(page)).values("webhook").annotate(
        n=Sum("count")).values_list("webhook", "n"))
    rows = [(hook, refused.get(hook.pk, 0)) for hook in page]
    return render(request, "webhooks/list.html", {"rows": rows, "page": page, "q": q,
                                                  "can_edit": can_edit(request.user)})


@editor_required
def webhook_create(request: AuthedRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            webhook = form.save(commit=False)
            webhook.created_by = request.user
            webhook.save()
            form.save_routes(webhook)
            messages.success(request, f"Webhook {webhook.name} created. Give its URL to the sending system.")
            return redirect(webhook)
        return render(request, "webhooks/form.html", {"form": form, "webhook": None}, status=400)
    return render(request, "webhooks/form.html", {"form": form, "webhook": None})


@editor_required
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_webhook_for_user(request, pk, write=True)
    form = WebhookForm(request.POST or None, instance=webhook)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Webhook {webhook.name} saved.")
            return redirect(webhook)
        return render(request, "webhooks/form.html", {"form": form, "webhook": webhook}, status=400)
    return render(request, "webhooks/form.html", {"form": form, "webhook": webhook})


def _deliveries(request: HttpRequest, webhook: Webhook) -> dict[str, object]:
    status = request.GET.get("status", "")
    deliveries = webhook.deliveries.defer("body")
    if status in Delivery.Status.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    pending = webhook.deliveries.filter(status__in=(Delivery.Status.RECEIVED, Delivery.Status.PROCESSING)).exists()
    return {"webhook": webhook, "deliveries": page, "status": status, "statuses": Delivery.Status.choices,
            "pending": pending, "can_edit": can_edit(request.user)}


@viewer_required
@require_GET
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_webhook_for_user(request, pk)
    handler = get_kind(webhook.kind)
    counts = dict(webhook.deliveries.values("status").annotate(n=Count("pk")).values_list("status", "n"))
    context = {
        **_deliveries(request, webhook),
        "counts": [(value, label, counts.get(value, 0)) for value, label in Delivery.Status.choices],
        "rejections": webhook.rejections.all(),
        "routes": webhook.routes.select_related("outgoing", "incoming"),
        "kind": handler,
        "kind_context": handler.detail_context(webhook) if handler is not None else {},
    }
    return render(request, "webhooks/detail.html", context)


@viewer_required
@require_GET
def webhook_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    """The deliveries table alone (htmx: polled while a delivery waits for a worker)."""
    webhook = get_webhook_for_user(request, pk)
    return render(request, "webhooks/_deliveries.html", _deliveries(request, webhook))


@viewer_required
@require_GET
def delivery_detail(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    webhook = get_webhook_for_user(request, pk)
    delivery = get_for_user(request, Delivery.objects.select_related("webhook").filter(webhook=webhook), delivery_pk)
    route_runs = list(RouteRun.objects.filter(pk__in=delivery.route_runs or []).select_related("route"))
    tasks = (Task.objects.filter(pk__in=(delivery.task_ids or [])[:100]).select_related("run__route_run__route")
             .order_by("pk"))
    return render(request, "webhooks/delivery.html", {
        "webhook": webhook, "delivery": delivery, "route_runs": route_runs, "tasks": tasks,
        "can_edit": can_edit(request.user),
    })


@editor_required
@require_POST
def delivery_replay(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    webhook = get_webhook_for_user(request, pk, write=True)
    delivery = get_for_user(request, Delivery.objects.filter(webhook=webhook), delivery_pk, write=True)
    if replay(delivery):
        messages.success(request, f"Delivery {delivery.pk} queued again with the current configuration.")
    else:
        messages.warning(request, f"Delivery {delivery.pk} is still waiting for a worker; nothing to replay.")
    return redirect(delivery)


@editor_required
@require_POST
def webhook_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Post a sample, signed like the sender would, through the hook's own checks (in this process)."""
    webhook = get_webhook_for_user(request, pk, write=True)
    handler = get_kind(webhook.kind)
    if handler is None:
        messages.error(request, f"No handler for webhooks of kind {webhook.kind} is installed.")
        return redirect(webhook)
    body, headers = handler.test_request(webhook)
    stream = io.BytesIO(body)
    answer = accept(webhook.token, read_body=stream.read, content_length=len(body), headers=headers,
                    remote_addr=request.META.get("REMOTE_ADDR", "127.0.0.1"), is_test=True)
    if answer.delivery is not None:
        messages.success(request, f"Test sent: HTTP {answer.status}, stored as delivery {answer.delivery.pk}.")
    else:
        messages.error(request, f"Test refused: HTTP {answer.status} ({answer.body.get('error', '')}).")
    return redirect(webhook)


@editor_required
@require_POST
def webhook_new_url(request: HttpRequest, pk: int) -> HttpResponse:
    """A new random URL (the old one leaked, or a sender must be cut off): the old one answers 404 at once."""
    webhook = get_webhook_for_user(request, pk, write=True)
    webhook.token = new_token()
    webhook.save(update_fields=["token", "updated_at"])
    note = " Subscriptions at the remote system still point at the old URL: subscribe again." \
        if webhook.kind != "generic" else " Give the new URL to the sending system."
    messages.success(request, f"Webhook {webhook.name} has a new URL; the old one answers 404 from now on.{note}")
    return redirect(webhook)


@editor_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_webhook_for_user(request, pk, write=True)
    routes = list(webhook.routes.all())
    if routes:  # as an Incoming: a route never loses its source behind its back
        messages.error(request, f"Webhook {webhook.name} feeds route(s) {', '.join(map(str, routes))}; "
                                "remove it from them first.")
        return redirect(webhook)
    name = webhook.name
    webhook.delete()
    messages.success(request, f"Webhook {name} deleted; its URL answers 404 from now on.")
    return redirect("webhooks:list")
