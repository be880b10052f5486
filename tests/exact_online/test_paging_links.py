"""Issue 10 item 2, the way an attacker would try it: a Base URI host that hands out ``__next`` links to another
address (an internal service, a collector on another port), a checkpoint whose stored next URL points there,
and raw answers that should not come back in pages or the auth log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import AuthEvent, HttpClient, OAuthGrant
from connections.models import Incoming
from connections.subscribers import ReadError, ResumePoint
from exact_online.models import ExactAccess
from exact_online.subscriber import ExactSubscriber
from tests.clients.oauth_helpers import make_client, recording_server, serving

pytestmark = pytest.mark.django_db

TOKEN = "access-token-canary-0123456789"
INTERNAL = "INTERNAL-ONLY-DATA db-password=hunter2"


@contextmanager
def hostile_exact(next_url: str) -> Iterator[tuple[str, list[str]]]:
    """A Base URI host: lists point their ``__next`` at ``next_url``; current/Me answers with internal text."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.path)
            if "current/Me" in self.path:
                status, body, kind = 400, INTERNAL.encode(), "text/plain"
            else:
                status, kind = 200, "application/json"
                body = json.dumps({"d": {"results": [{"ID": "a1", "Name": "one"}], "__next": next_url}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url, received


def granted_client(base_url: str) -> HttpClient:
    client = make_client(base_url, log=True)
    now = timezone.now()
    OAuthGrant.objects.create(client=client, access_token=TOKEN, refresh_token="refresh-token-canary-0123456789",
                              expires_in=600, issued_at=now, expires_at=now + timedelta(seconds=600), version=1)
    ExactAccess.objects.create(client=client, default_division=111, current_division=111, divisions=[{"code": 111}])
    client.status = HttpClient.Status.GRANTED
    client.save()
    return client


def subscriber(client: HttpClient) -> ExactSubscriber:
    return ExactSubscriber(Incoming(name="t", subscriber="exact_online", http_client=client, query={}, path={},
                                    config={"entity": "crm/Accounts", "endpoint": "standard",
                                            "divisions": "default", "division_codes": []}))


def test_a_next_link_to_another_port_is_not_followed_and_gets_no_token():
    with recording_server() as (collector, collected):
        link = f"{collector}/api/v1/111/crm/Accounts?$skiptoken=guid'x'"
        with hostile_exact(link) as (base, served):
            pages = subscriber(granted_client(base)).read(111)
            first = next(pages)
            assert [row["ID"] for row in first.entities] == ["a1"]
            with pytest.raises(ReadError) as caught:
                next(pages)
    assert caught.value.permanent
    assert "points at another address" in str(caught.value) and "access token was not sent" in str(caught.value)
    assert collected == [] and len(served) == 1


def test_a_checkpoint_next_url_on_another_host_is_not_resumed():
    with recording_server() as (collector, collected), hostile_exact("") as (base, served):
        resume = ResumePoint(next_url=f"{collector}/api/v1/111/crm/Accounts?$skiptoken=guid'x'", page=3)
        with pytest.raises(ReadError, match="points at another address"):
            list(subscriber(granted_client(base)).read(111, resume=resume))
    assert collected == [] and served == []


def test_an_unexpected_answer_is_not_reflected_in_the_page_or_the_auth_log(editor_client):
    with hostile_exact("") as (base, _served):
        client = granted_client(base)
        page = editor_client.post(reverse("clients:test_connection", args=[client.pk]), follow=True)
    body = page.content.decode()
    assert "HTTP 400" in body and "text that is not JSON" in body
    assert "INTERNAL-ONLY-DATA" not in body and "hunter2" not in body
    events = " ".join(AuthEvent.objects.filter(client=client).values_list("message", flat=True))
    assert "HTTP 400" in events and "INTERNAL-ONLY-DATA" not in events
