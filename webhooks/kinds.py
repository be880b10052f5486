"""The webhook-kind registry: who checks and processes a hook's deliveries.

The platform's ``generic`` kind parses the body (JSON/CSV/XML) and turns every item into a task of each
route the hook feeds. A connector registers its own kind in its ``AppConfig.ready()`` (Exact Online's signed
events: the HashCode check, then a fetch of the changed entity); ``webhooks`` never imports a connector.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lib.plugins import Plugin, Registry

from .parsers import content_type_allowed, parse_items, pick
from .validators import Rejected, Validation, hmac_signature, validate_request

if TYPE_CHECKING:
    from .models import Delivery, Webhook

__all__ = ["WEBHOOK_KINDS", "GenericKind", "Prepared", "Processed", "WebhookKind", "get_kind", "kind_choices",
           "register_kind"]


@dataclass
class Processed:
    """What processing made of one delivery: its status, items read, tasks created, the route runs holding them.

    ``note`` is the error of a failed delivery, or a remark on a processed one.
    """

    status: str = "processed"
    items: int = 0
    tasks_created: int = 0
    task_ids: list[int] = field(default_factory=list)
    route_runs: list[int] = field(default_factory=list)
    duplicate_of: int | None = None
    note: str = ""


@dataclass
class Prepared:
    """What a kind made of claimed deliveries before writing anything: the outcomes known already (duplicates,
    parse failures) and ``write``, which the caller runs inside a short transaction to save the rest (tasks,
    pending changes) and which returns their outcomes."""

    outcomes: dict[int, Processed] = field(default_factory=dict)
    write: Callable[[], dict[int, Processed]] | None = None


class WebhookKind(Plugin):
    """Base class: the generic behaviour; connectors override what differs (a plugin of ``lib.plugins``)."""

    accepted_status: ClassVar[int] = 202
    user_creatable: ClassVar[bool] = True
    detail_template: ClassVar[str] = ""  # a section of the connector's own on the webhook page
    # A sender that does not guarantee delivery: a route it feeds also needs an incremental Incoming read on a
    # schedule, which picks up what the hook missed; new such routes get this interval (seconds) unless given one.
    reconcile_every: ClassVar[int | None] = None

    def detail_context(self, webhook: Webhook) -> dict[str, Any]:
        return {}

    def check_content_type(self, webhook: Webhook, content_type: str, body: bytes) -> None:
        if not content_type_allowed(webhook.parser, content_type):
            raise Rejected(415, f"content type {content_type or '(none)'} is not {webhook.get_parser_display()}")

    def verify(self, webhook: Webhook, headers: Mapping[str, str], body: bytes, remote_addr: str) -> None:
        validate_request(Validation.model_validate(webhook.validation or {}), webhook.get_secrets(), headers, body,
                         remote_addr)

    def is_ping(self, webhook: Webhook, body: bytes) -> bool:
        """A request answered OK but not stored (Exact's empty validation POST)."""
        return False

    def redacted_headers(self, webhook: Webhook) -> set[str]:
        return Validation.model_validate(webhook.validation or {}).redacted_headers

    def dedup_key(self, webhook: Webhook, headers: Mapping[str, str], body_hash: str) -> str:
        if webhook.dedup_header:
            lowered = webhook.dedup_header.lower()
            sent = next((v for k, v in headers.items() if k.lower() == lowered), "")
            if sent:
                return f"id:{sent[:190]}"
        return f"sha256:{body_hash}"

    def items(self, delivery: Delivery) -> list[Any]:
        webhook = delivery.webhook
        return parse_items(webhook.parser, webhook.parser_config or {}, delivery.body_bytes())

    def identifier(self, webhook: Webhook, item: Any) -> str:
        if webhook.identifier_path and isinstance(item, dict | list):
            found = pick(webhook.identifier_path, item)
            if found is not None:
                return str(found)
        if isinstance(item, dict):
            return str(item.get("id") or item.get("ID") or item.get("Id") or "")
        return ""

    def prepare(self, deliveries: list[Delivery]) -> Prepared:
        """Work out what claimed deliveries of one hook make, outside any transaction (``Prepared``).

        Generic: parse each body (a failure fails only that delivery), skip duplicates, run all items through
        the chains of the hook's routes (one route run per route); the tasks are written by ``Prepared.write``.
        """
        from .feed import Fed, NothingToFeed, prepare_routes
        from .parsers import ParseError

        outcomes: dict[int, Processed] = {}
        groups: list[tuple[int, list[dict[str, Any]]]] = []
        for delivery in deliveries:
            original = delivery.older_duplicate() if delivery.first_attempt else None
            if original is not None:
                what = "delivery id" if delivery.dedup_key.startswith("id:") else "body"
                outcomes[delivery.pk] = Processed(status="duplicate", duplicate_of=original.pk,
                                                  note=f"Same {what} as delivery {original.pk}: no tasks created.")
                continue
            try:
                items = self.items(delivery)
            except ParseError as exc:
                outcomes[delivery.pk] = Processed(status="failed", note=str(exc))
                continue
            groups.append((delivery.pk, [i if isinstance(i, dict) else {"value": i} for i in items]))
        if not groups:
            return Prepared(outcomes)
        webhook = deliveries[0].webhook
        try:
            parts = prepare_routes(webhook, groups, identifier=lambda item: self.identifier(webhook, item),
                                   source=lambda pk: f"webhook {webhook.name}, delivery {pk}")
        except NothingToFeed as exc:
            outcomes.update({pk: Processed(status="failed", note=str(exc)) for pk, _ in groups})
            return Prepared(outcomes)

        def write() -> dict[int, Processed]:
            fed = Fed()
            for part in parts:
                part.write(fed)
            return {pk: Processed(items=len(items), tasks_created=len(fed.task_ids.get(pk, [])),
                                  task_ids=fed.task_ids.get(pk, []), route_runs=list(fed.route_runs))
                    for pk, items in groups}

        return Prepared(outcomes, write)

    def test_request(self, webhook: Webhook) -> tuple[bytes, dict[str, str]]:
        """A sample request that passes this hook's own checks ("Send test")."""
        body = (webhook.sample or default_sample(webhook.parser)).encode("utf-8")
        validation = Validation.model_validate(webhook.validation or {})
        secrets = webhook.get_secrets()
        content_type = {"json": "application/json", "csv": "text/csv", "xml": "application/xml"}[webhook.parser]
        headers = {"Content-Type": content_type}
        if validation.secret_header:
            headers[validation.secret_header.header] = secrets.get("shared_secret", "")
        if validation.basic:
            pair = f"{validation.basic.username}:{secrets.get('basic_password', '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        if validation.timestamp:
            headers[validation.timestamp.header] = str(int(time.time()))
        if validation.hmac and secrets.get("hmac_secret"):
            headers[validation.hmac.header] = hmac_signature(validation.hmac, secrets["hmac_secret"], body)
        if webhook.dedup_header:
            headers[webhook.dedup_header] = "test-" + hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:16]
        return body, headers


def default_sample(parser: str) -> str:
    if parser == "csv":
        return "id,name,amount\nT-1,Test order,12.50\n"
    if parser == "xml":
        return "<orders><order><id>T-1</id><name>Test order</name><amount>12.50</amount></order></orders>"
    return json.dumps({"orders": [{"id": "T-1", "name": "Test order", "amount": 12.5}]})


class GenericKind(WebhookKind):
    kind = "generic"
    label = "Generic (JSON, CSV, XML)"


WEBHOOK_KINDS: Registry[WebhookKind] = Registry("webhook kind")
register_kind = WEBHOOK_KINDS.register


def get_kind(kind: str) -> WebhookKind | None:
    """An instance of the webhook kind ``kind``, or None when its connector is not installed."""
    cls = WEBHOOK_KINDS.find(kind)
    return cls() if cls is not None else None


def kind_choices(*, creatable_only: bool = True) -> list[tuple[str, str]]:
    return [(cls.kind, cls.label) for cls in WEBHOOK_KINDS.all() if cls.user_creatable or not creatable_only]
