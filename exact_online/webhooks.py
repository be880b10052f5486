"""Exact Online webhooks: subscriptions managed through Exact's API, signed events in, coalesced fetches out.

- **Subscriptions** (``subscribe``, ``list_subscriptions``, ``unsubscribe``): ``webhooks/WebhookSubscriptions``
  per division and topic, pointing at the client's own hook (a ``webhooks.Webhook`` of kind ``exact_online``).
- **Events** (``ExactWebhookKind``): Exact's empty validation POST is answered 200 and not stored; an event is
  checked (``HashCode`` = upper-case hex HMAC-SHA256 of the raw ``Content`` text under the client's webhook
  secret, compared in constant time, API.md §10 / FIELD-NOTES G1), stored, and processed on a worker into a
  *pending change* per key, due a few seconds later: a burst for one key costs one fetch.
- **Fetches** (``fetch_changes``): each due change is read by its key (one call through the quota limiter),
  or recorded as a delete, and becomes a task of every route the hook feeds whose Incoming reads that topic.
  The version delivered (``Modified``) is remembered, so a reconciliation read (the route's scheduled
  incremental sync, see ``subscriber.py``) skips it and delivers only what the webhooks missed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from clients.models import HttpClient
from connections.models import Incoming, Route
from webhooks.feed import prepare_route
from webhooks.kinds import Prepared, Processed, WebhookKind
from webhooks.models import Delivery, Webhook
from webhooks.parsers import ParseError
from webhooks.validators import Rejected

from .catalog import Entity, catalog
from .cursors import date_ms
from .errors import ExactError, NotFound, QuotaWait
from .models import ExactChange, access_of
from .odata import key_path
from .read_plan import split_select

__all__ = ["KIND", "SUBSCRIPTIONS", "ExactWebhookKind", "change_counts", "fetch_changes", "list_subscriptions",
           "release_stuck", "sign_content", "subscribe", "topic_choices", "unsubscribe", "webhook_for"]

logger = logging.getLogger(__name__)
KIND = "exact_online"
SUBSCRIPTIONS = "webhooks/WebhookSubscriptions"
# The HMAC covers the raw text between '{"Content":' and ',"HashCode":' exactly as sent (FIELD-NOTES G1).
_ENVELOPE = re.compile(r'^\s*\{\s*"Content"\s*:\s*(?P<content>\{.*\})\s*,\s*"HashCode"\s*:\s*'
                       r'"(?P<hash>[^"]*)"\s*\}\s*$', re.DOTALL)
# Topics people ask for first (the examples), then every other entity that supports webhooks.
FAVOURITE_TOPICS = ["Accounts", "SalesOrders", "SalesInvoices", "Items", "Contacts", "PurchaseOrders",
                    "GoodsDeliveries", "StockPositions", "FinancialTransactions", "Documents"]


def coalesce_seconds() -> float:
    return float(getattr(settings, "EXACT_WEBHOOK_COALESCE_SECONDS", 2.0))


def sign_content(content_text: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), content_text.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def topic_choices() -> list[str]:
    names = {entity.name for entity in catalog() if entity.kind == "standard"}
    return [t for t in FAVOURITE_TOPICS if t in names]


def client_of(webhook: Webhook) -> HttpClient | None:
    client_id = (webhook.config or {}).get("http_client")
    return HttpClient.objects.filter(pk=client_id).first() if client_id else None


def webhook_for(client: HttpClient, *, create: bool = False) -> Webhook | None:
    """The hook Exact posts this client's events to (one per client)."""
    hook = Webhook.objects.filter(kind=KIND, config__http_client=client.pk).first()
    if hook is None and create:
        hook = Webhook.objects.create(name=f"Exact Online events: {client.name} ({client.pk})", kind=KIND,
                                      config={"http_client": client.pk, "subscriptions": []})
    return hook


def _topic_of(incoming: Incoming | None) -> str:
    if incoming is None or incoming.subscriber != KIND:
        return ""
    entity = catalog().get(str((incoming.config or {}).get("entity") or ""))
    return entity.name.lower() if entity is not None else ""


# --- events -----------------------------------------------------------------------------------------


class ExactWebhookKind(WebhookKind):
    """Events of one Exact Online HTTP Client: verified with its webhook secret, coalesced per key."""

    kind = KIND
    label = "Exact Online events"
    accepted_status = 200  # Exact wants 200 or 201; anything else is retried (API.md §10)
    # Exact does not guarantee delivery: a fed route reads its incremental Incoming (one sync call per division
    # when nothing changed) every 15 minutes, which delivers what the events missed.
    reconcile_every = 900
    user_creatable = False
    detail_template: ClassVar[str] = "exact_online/webhook_detail.html"

    def check_content_type(self, webhook: Webhook, content_type: str, body: bytes) -> None:
        media = content_type.split(";")[0].strip().lower()
        if media not in ("", "application/json", "text/json"):
            raise Rejected(415, f"content type {content_type} is not JSON")

    def is_ping(self, webhook: Webhook, body: bytes) -> bool:
        return not body.strip()  # Exact's validation POST after a subscription is created (FIELD-NOTES G2)

    def verify(self, webhook: Webhook, headers: Mapping[str, str], body: bytes, remote_addr: str) -> None:
        if not body.strip():
            return
        client = client_of(webhook)
        secret = client.get_secret("webhook_secret") if client is not None else ""
        if not secret:
            raise Rejected(401, "the HTTP Client has no webhook secret to check signatures with")
        match = _ENVELOPE.match(body.decode("utf-8", errors="replace"))
        if match is None:
            raise Rejected(401, "not an Exact Online event (no Content and HashCode)")
        expected = sign_content(match.group("content"), secret)
        if not hmac.compare_digest(match.group("hash").upper().encode(), expected.encode()):
            raise Rejected(401, "bad HashCode")

    def items(self, delivery: Delivery) -> list[Any]:
        try:
            content = json.loads(delivery.body_bytes())["Content"]
            return [{"Topic": str(content["Topic"]), "Key": str(content["Key"]), "Division": int(content["Division"]),
                     "Action": str(content.get("Action") or "Update")}]
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"Not an Exact Online event: {exc}") from None

    def identifier(self, webhook: Webhook, item: Any) -> str:
        return str(item.get("Key", "")) if isinstance(item, dict) else ""

    def prepare(self, deliveries: list[Delivery]) -> Prepared:
        """Check duplicates and read each event now; ``write`` adds them to the pending changes."""
        outcomes: dict[int, Processed] = {}
        events: list[tuple[int, dict[str, Any]]] = []
        for delivery in deliveries:
            if delivery.first_attempt and (original := delivery.older_duplicate()) is not None:
                outcomes[delivery.pk] = Processed(status="duplicate", duplicate_of=original.pk,
                                                  note=f"Same event as delivery {original.pk} (Exact retried).")
                continue
            try:
                (event,) = self.items(delivery)
            except ParseError as exc:
                outcomes[delivery.pk] = Processed(status="failed", note=str(exc))
                continue
            if delivery.is_test:  # "Send test": its random key must not reach a route (a fetch would say deleted)
                outcomes[delivery.pk] = Processed(items=1, note="Test event: HashCode verified; not fetched.")
                continue
            events.append((delivery.pk, event))
        if not events:
            return Prepared(outcomes)
        webhook = deliveries[0].webhook

        def write() -> dict[int, Processed]:
            due = timezone.now() + timedelta(seconds=coalesce_seconds())
            noted: dict[int, Processed] = {}
            for pk, event in events:
                merged = _note_event(webhook, event, due)
                noted[pk] = Processed(items=1, note=f"{event['Action']} of {event['Topic']} {event['Key']}: " + (
                    "joined a pending change (one fetch for the burst)." if merged else "fetch queued."))
            transaction.on_commit(partial(_schedule_fetch, webhook.pk, due))
            return noted

        return Prepared(outcomes, write)

    def test_request(self, webhook: Webhook) -> tuple[bytes, dict[str, str]]:
        client = client_of(webhook)
        secret = client.get_secret("webhook_secret") if client is not None else ""
        access = access_of(client)
        content = json.dumps({"Topic": "Accounts", "ClientId": (client.config or {}).get("client_id", "")
                              if client else "", "Division": (access.division if access else 0) or 0,
                              "Action": "Update", "Key": str(uuid.uuid4()),
                              "ExactOnlineEndpoint": "", "EventCreatedOn": timezone.now().isoformat()},
                             separators=(",", ":"))
        body = '{"Content":' + content + ',"HashCode":"' + sign_content(content, secret) + '"}'
        return body.encode(), {"Content-Type": "application/json"}

    def detail_context(self, webhook: Webhook) -> dict[str, Any]:
        return {"client": client_of(webhook), "counts": change_counts(webhook),
                "pending": ExactChange.objects.filter(webhook=webhook, status=ExactChange.Status.PENDING).count(),
                "recent_changes": ExactChange.objects.filter(webhook=webhook)[:20]}


def _note_event(webhook: Webhook, event: dict[str, Any], due: Any) -> bool:
    """Add an event to the key's pending change (True) or start one (False)."""
    now = timezone.now()
    where = {"webhook": webhook, "division": event["Division"], "topic": event["Topic"], "key": event["Key"],
             "status": ExactChange.Status.PENDING}
    if ExactChange.objects.filter(**where).update(events=F("events") + 1, last_event_at=now, due_at=due,
                                                 action=event["Action"]):
        return True
    try:
        with transaction.atomic():
            ExactChange.objects.create(**where, action=event["Action"], first_event_at=now, last_event_at=now,
                                       due_at=due)
    except IntegrityError:  # a concurrent event started it
        ExactChange.objects.filter(**where).update(events=F("events") + 1, last_event_at=now, due_at=due)
        return True
    return False


def _schedule_fetch(webhook_id: int, at: Any) -> None:
    from .tasks import fetch_exact_changes

    fetch_exact_changes.apply_async((webhook_id,), eta=at + timedelta(milliseconds=200))


# --- fetches ----------------------------------------------------------------------------------------


def _standard(entity: Entity) -> Entity:
    return entity.standard_counterpart or entity


def _select_for(incoming: Incoming, entity: Entity) -> str:
    chosen = [entity.canonical(s) for s in split_select((incoming.query or {}).get("$select"))]
    names = [n for n in chosen if entity.has_property(n)] or entity.default_select
    for needed in (entity.record_key or "ID", "Modified"):
        if needed and entity.has_property(needed) and needed not in names:
            names.append(needed)
    return ",".join(names)


def release_stuck(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Changes left Fetching by a worker that died go back to Pending (fetched again; never lost)."""
    return ExactChange.objects.filter(status=ExactChange.Status.FETCHING,
                                      claimed_at__lt=timezone.now() - older_than).update(
        status=ExactChange.Status.PENDING, claimed_at=None)


def fetch_changes(webhook_id: int, *, now: Any = None, limit: int = 200) -> dict[str, int]:
    """Fetch the hook's due pending changes and feed them to its routes; returns counts per outcome."""
    from .client_type import api_for

    now = now or timezone.now()
    webhook = Webhook.objects.filter(pk=webhook_id, kind=KIND).first()
    if webhook is None:
        return {}
    with transaction.atomic():
        ids = list(ExactChange.objects.filter(webhook=webhook, status=ExactChange.Status.PENDING, due_at__lte=now)
                   .order_by("due_at").values_list("pk", flat=True)[:limit])
        ExactChange.objects.filter(pk__in=ids, status=ExactChange.Status.PENDING).update(
            status=ExactChange.Status.FETCHING, claimed_at=now)
    changes = list(ExactChange.objects.filter(pk__in=ids, status=ExactChange.Status.FETCHING).order_by("pk"))
    counts: dict[str, int] = {}
    if changes:
        client = client_of(webhook)
        # No sleeping on quota: an exhausted quota sends the change back to Pending until the reset.
        api = api_for(client, max_wait=0.0) if client is not None else None
        routes = [r for r in webhook.fed_routes() if _topic_of(r.incoming)]
        ready: list[tuple[ExactChange, dict[str, Any], list[Route]]] = []
        for change in changes:
            outcome = _fetch_one(api, change, routes, now)
            if isinstance(outcome, str):
                counts[outcome] = counts.get(outcome, 0) + 1
            else:
                ready.append(outcome)
        if ready:
            _deliver(ready)
            counts["delivered"] = len(ready)
    _schedule_next(webhook)
    return counts


def _fetch_one(api: Any, change: ExactChange, routes: list[Route], now: Any
               ) -> str | tuple[ExactChange, dict[str, Any], list[Route]]:
    targets = [r for r in routes if _topic_of(r.incoming) == change.topic.lower()]

    def close(status: str, error: str = "", **fields: Any) -> str:
        ExactChange.objects.filter(pk=change.pk).update(status=status, error=error[:2000], done_at=timezone.now(),
                                                        **fields)
        return status

    if not targets:
        return close(ExactChange.Status.FAILED, f"No enabled route fed by this webhook reads {change.topic}.")
    incoming = targets[0].incoming
    assert incoming is not None
    entity_def = _standard(catalog()[str(incoming.config.get("entity"))])
    key_name = entity_def.record_key or "ID"
    if change.action.lower() == "delete":
        return change, {key_name: change.key, "Deleted": True}, targets
    if api is None:
        return close(ExactChange.Status.FAILED, "The webhook's HTTP Client is gone.")
    path = key_path(entity_def, change.key)
    try:
        body = api.get(path, division=change.division, params={"$select": _select_for(incoming, entity_def)})
    except NotFound:
        return change, {key_name: change.key, "Deleted": True}, targets  # deleted since the event
    except ExactError as exc:
        if exc.permanent:
            return close(ExactChange.Status.FAILED, exc.message)
        # Waiting is data: the change stays pending, due again at the quota's reset (or in a minute: outage).
        due = datetime.fromtimestamp(exc.until, tz=UTC) if isinstance(exc, QuotaWait) else now + timedelta(seconds=60)
        ExactChange.objects.filter(pk=change.pk).update(status=ExactChange.Status.PENDING, claimed_at=None,
                                                        due_at=due, error=exc.message[:2000])
        return "retry later"
    d = body.get("d") if isinstance(body, dict) else None
    record = (d.get("results") or [None])[0] if isinstance(d, dict) and "results" in d else d
    if not isinstance(record, dict):
        return close(ExactChange.Status.FAILED, "Exact Online's answer had no record in it.")
    record = {k: v for k, v in record.items() if k != "__metadata"}
    modified = date_ms(record.get("Modified"))
    if modified is not None and ExactChange.objects.filter(
            incoming=incoming, key=change.key, modified_ms=modified, status=ExactChange.Status.DONE).exists():
        return close(ExactChange.Status.SKIPPED, "This version was delivered already.", modified_ms=modified,
                     incoming=incoming)
    return change, record, targets


def _deliver(ready: list[tuple[ExactChange, dict[str, Any], list[Route]]]) -> None:
    """One route run per route and division for the fetched changes; every change marked Delivered."""
    from connections.flow.read import subscriber_for

    by_route: dict[tuple[int, int], list[tuple[ExactChange, dict[str, Any]]]] = {}
    routes: dict[int, Route] = {}
    for change, record, targets in ready:
        for route in targets:
            routes[route.pk] = route
            by_route.setdefault((route.pk, change.division), []).append((change, record))
    parts = []  # the routes' chains run before the transaction: it holds the write lock for the writes only
    for (route_pk, division), items in by_route.items():
        route = routes[route_pk]
        assert route.incoming is not None  # targets are the routes whose Incoming reads the topic
        keys = subscriber_for(route.incoming)
        parts.append(prepare_route(route, [(change.pk, [record]) for change, record in items],
                                   identifier=keys.identifier, source=lambda pk: f"Exact Online webhook, change {pk}",
                                   division=division))
    with transaction.atomic():
        made: dict[int, int] = {}
        for part in parts:
            fed = part.write()
            for pk, task_ids in fed.task_ids.items():
                made[int(str(pk))] = made.get(int(str(pk)), 0) + len(task_ids)  # keys are the changes' ids
        now = timezone.now()
        for change, record, targets in ready:
            ExactChange.objects.filter(pk=change.pk).update(
                status=ExactChange.Status.DONE, done_at=now, incoming=targets[0].incoming, error="",
                modified_ms=date_ms(record.get("Modified")), tasks_created=made.get(change.pk, 0))


def _schedule_next(webhook: Webhook) -> None:
    following = ExactChange.objects.filter(webhook=webhook, status=ExactChange.Status.PENDING).order_by(
        "due_at").values_list("due_at", flat=True).first()
    if following is not None:
        transaction.on_commit(partial(_schedule_fetch, webhook.pk, following))


def change_counts(webhook: Webhook) -> list[dict[str, Any]]:
    """Per route the hook feeds: changes delivered by webhook and changes found only by reconciliation."""
    rows = []
    for route in webhook.routes.select_related("incoming"):
        if route.incoming is None:
            continue
        by = dict(ExactChange.objects.filter(incoming=route.incoming, status=ExactChange.Status.DONE)
                  .values("source").annotate(n=Count("pk")).values_list("source", "n"))
        rows.append({"route": route, "webhook": by.get(ExactChange.Source.WEBHOOK, 0),
                     "reconciliation": by.get(ExactChange.Source.RECONCILIATION, 0),
                     "schedule": route.schedule_text, "incremental": route.incoming.incremental})
    return rows


# --- subscriptions ----------------------------------------------------------------------------------


def subscribe(client: HttpClient, topics: list[str], divisions: list[int]) -> tuple[Webhook, list[str]]:
    """Create the subscriptions (topic x division) at Exact, pointing at this client's hook; what happened."""
    from .client_type import api_for

    hook = webhook_for(client, create=True)
    assert hook is not None
    api = api_for(client)
    notes = []
    for division in divisions:
        for topic in topics:
            try:
                api.request("POST", SUBSCRIPTIONS, division=division, json={"CallbackURL": hook.url, "Topic": topic})
                notes.append(f"{topic} in {division}: subscribed")
            except ExactError as exc:
                if "already exists" in exc.message.lower():
                    notes.append(f"{topic} in {division}: was subscribed already")
                else:
                    notes.append(f"{topic} in {division}: {exc.message}")
    config = dict(hook.config or {})
    config["divisions"] = sorted({*config.get("divisions", []), *divisions})
    hook.config = config
    hook.save(update_fields=["config", "updated_at"])
    list_subscriptions(client)
    return hook, notes


def list_subscriptions(client: HttpClient) -> list[dict[str, Any]]:
    """What Exact has registered for this app in the hook's divisions (stored on the hook for the page)."""
    from .client_type import api_for

    hook = webhook_for(client)
    if hook is None:
        return []
    api = api_for(client)
    rows: list[dict[str, Any]] = []
    for division in (hook.config or {}).get("divisions", []):
        for page in api.iter_pages(SUBSCRIPTIONS, division=division,
                                   params={"$select": "ID,Topic,CallbackURL,Created,Division"}):
            rows.extend({"id": r.get("ID"), "topic": r.get("Topic"), "callback": r.get("CallbackURL"),
                         "division": r.get("Division") or division, "ours": r.get("CallbackURL") == hook.url}
                        for r in page.results)
    config = dict(hook.config or {})
    config["subscriptions"] = rows
    config["listed_at"] = timezone.now().isoformat()
    hook.config = config
    hook.save(update_fields=["config", "updated_at"])
    return rows


def unsubscribe(client: HttpClient, division: int, subscription_id: str) -> None:
    from .client_type import api_for

    uuid.UUID(subscription_id)  # only a GUID goes into the URL
    api_for(client).request("DELETE", f"{SUBSCRIPTIONS}(guid'{subscription_id}')", division=division)
    list_subscriptions(client)
