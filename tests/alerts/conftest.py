"""Alerts fixtures: routes and clients to watch, a channel, and a sender that records instead of sending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alerts.channels import Message
from alerts.models import Channel, Rule
from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route


class Recorder:
    """Stands in for ``alerts.channels.send`` (the boundary): keeps (channel name, message)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    def __call__(self, channel: Channel, message: Message) -> None:
        self.sent.append((channel.name, message))

    @property
    def events(self) -> list[str]:
        return [m.event for _, m in self.sent]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_route(db) -> Callable[..., Route]:
    counter = {"n": 0}

    def make(**fields: Any) -> Route:
        counter["n"] += 1
        n = counter["n"]
        client = HttpClient.objects.create(name=f"watched client {n}", kind="exact_online",
                                           config={"base_url": "http://x"})
        incoming = Incoming.objects.create(name=f"watched incoming {n}", subscriber="exact_online",
                                           http_client=client)
        outgoing = Outgoing.objects.create(name=f"watched outgoing {n}", publisher="exact_online", action="create",
                                           entity="crm/Accounts", http_client=client)
        return Route.objects.create(name=f"watched route {n}", incoming=incoming, outgoing=outgoing, **fields)

    return make


@pytest.fixture
def channel(db) -> Channel:
    return Channel.objects.create(name="ops mail", kind=Channel.Kind.EMAIL, recipients="ops@example.com")


@pytest.fixture
def make_rule(channel) -> Callable[..., Rule]:
    def make(kind: str, **fields: Any) -> Rule:
        rule = Rule.objects.create(name=f"rule {kind}", kind=kind, **fields)
        rule.channels.add(channel)
        return rule

    return make
