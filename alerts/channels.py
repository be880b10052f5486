"""Sending one message to one channel: e-mail through Django's mail backend, or a POST of the payload shape
each receiver expects (Slack incoming webhook, Teams workflow webhook with an Adaptive Card, generic JSON).

Webhook URLs go through the one outbound wrapper (``lib.http.Transport``: timeout, destination guard); a
failure raises ``ChannelError`` with a message that never contains the URL (its token is a secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail

from lib.http import AddressGuard, Refused, Transport, Unreachable

from .models import Channel

__all__ = ["ChannelError", "Message", "payload_for", "send"]

COLOURS = {"fired": "#d0453a", "repeat": "#e0a526", "resolved": "#2f9e55", "test": "#5b8fe0", "digest": "#5b8fe0"}
SEND_TIMEOUT = 10.0


class ChannelError(Exception):
    """The channel did not take the message; the text is safe to show (no URL, no token)."""


@dataclass
class Message:
    """What one notification says, whatever the channel."""

    event: str  # fired | repeat | resolved | test | digest
    subject: str
    detail: str = ""
    url: str = ""
    rule: str = ""
    kind: str = ""
    alert_id: int | None = None
    key: str = ""
    at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        prefix = {"fired": "ALERT", "repeat": "STILL OPEN", "resolved": "RESOLVED", "test": "TEST",
                  "digest": "DIGEST"}.get(self.event, self.event.upper())
        return f"[{prefix}] {self.subject}"

    @property
    def absolute_url(self) -> str:
        if not self.url or "://" in self.url:
            return self.url
        return settings.SITE_URL.rstrip("/") + self.url


def payload_for(kind: str, message: Message) -> dict[str, Any]:
    """The JSON body a receiver of ``kind`` understands."""
    link = message.absolute_url
    text = message.detail or message.subject
    if kind == Channel.Kind.SLACK:
        body = f"*{message.title}*\n{text}" + (f"\n<{link}|Open in Exact Dash>" if link else "")
        return {"text": f"{message.title}: {text}",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]}
    if kind == Channel.Kind.TEAMS:
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4",
            "body": [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": message.title,
                      "color": "Good" if message.event == "resolved" else "Attention"},
                     {"type": "TextBlock", "wrap": True, "text": text}],
        }
        if link:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Exact Dash", "url": link}]
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}
    return {"event": message.event, "subject": message.subject, "detail": message.detail, "url": link,
            "rule": message.rule, "rule_kind": message.kind, "alert_id": message.alert_id, "key": message.key,
            "at": message.at.isoformat() if message.at else None, **message.extra}


def _scheme_guard(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise Refused("Not sent: a webhook URL must start with http:// or https://.")


def _address_guard() -> AddressGuard:
    """Private, loopback and link-local receivers are refused at connect time unless allowed (as for HTTP clients:
    ``DASH_OUTBOUND_ALLOW_PRIVATE``, ``DASH_OUTBOUND_ALLOWED_HOSTS``), so a channel cannot reach inside."""
    return AddressGuard.for_hosts(allow_private=settings.OUTBOUND_ALLOW_PRIVATE,
                                  allowed_hosts=settings.OUTBOUND_ALLOWED_HOSTS)


def send(channel: Channel, message: Message) -> None:
    """Deliver ``message`` to ``channel``; raises ``ChannelError`` saying why it did not arrive."""
    if channel.kind == Channel.Kind.EMAIL:
        recipients = channel.recipient_list
        if not recipients:
            raise ChannelError("No e-mail addresses are set.")
        body = "\n\n".join(p for p in (message.detail or message.subject, message.absolute_url) if p)
        try:
            send_mail(message.title, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
        except Exception as exc:  # the mail backend's errors are many (smtplib, socket); all mean "not sent"
            raise ChannelError(f"The mail server did not take the message ({type(exc).__name__}).") from None
        return
    url = channel.get_secret("url")
    if not url:
        raise ChannelError("No webhook URL is stored.")
    host = urlsplit(url).hostname or "?"
    transport = Transport(timeout=SEND_TIMEOUT, system=f"The webhook at {host}", guard=_scheme_guard,
                          address_guard=_address_guard(), max_body=100_000)
    try:
        sent = transport.send("POST", url, json=payload_for(channel.kind, message),
                              headers={"Content-Type": "application/json"})
    except Refused as exc:
        raise ChannelError(exc.message.replace(url, host)) from None
    except Unreachable as exc:
        raise ChannelError(str(exc).replace(url, host)) from None
    status = sent.response.status_code
    if not 200 <= status < 300:
        raise ChannelError(f"The webhook at {host} answered HTTP {status}.")
