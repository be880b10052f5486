"""Helpers for the HTTP client tests: a client at the sandbox, the grant round trip, a stub token endpoint and a
recording server (an attacker's host on another port that keeps everything it was sent)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django.urls import reverse

from clients.models import HttpClient
from exact_online.client_type import KIND, redirect_uri


def make_client(base_url: str, app: dict[str, Any] | None = None, *, name: str = "Sandbox", log: bool = True,
                **config: Any) -> HttpClient:
    app = app or {"client_id": "b81cc4de-d192-400e-bcb4-09254394c52a", "client_secret": "not-a-real-secret"}
    client = HttpClient(name=name, kind=KIND, log_requests=log,
                        config={"base_url": base_url, "client_id": app["client_id"], "scopes": "", **config})
    client.set_secrets({"client_secret": app["client_secret"], "webhook_secret": app.get("webhook_secret", "")})
    client.save()
    return client


def sandbox_client(sandbox: Any, **kwargs: Any) -> tuple[HttpClient, dict[str, Any]]:
    app = sandbox.register_app("Exact Dash test", redirect_uri())
    return make_client(sandbox.url, app, **kwargs), app


def start_grant(browser: Client, client: HttpClient) -> str:
    """POST "Grant access": returns the state the consent page will send back."""
    response = browser.post(reverse("clients:grant", args=[client.pk]))
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert "/api/oauth2/auth?" in location
    return parse_qs(urlsplit(location).query)["state"][0]


def callback(browser: Client, **params: str) -> Any:
    return browser.get(reverse("clients:oauth_callback"), params, follow=True)


def grant(browser: Client, client: HttpClient, sandbox: Any, app: dict[str, Any]) -> Any:
    state = start_grant(browser, client)
    code = sandbox.authorize(app["client_id"], redirect_uri(), state=state)
    return callback(browser, code=code, state=state)


def page_messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run ``handler`` on a free loopback port in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)  # shutdown() waits one poll
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def stub_token_endpoint(status: int, body: bytes | None, content_type: str = "application/json") -> Iterator[str]:
    """A tiny HTTP server whose /api/oauth2/token answers ``status`` + ``body`` (None: an empty body)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            payload = body or b""
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


@contextmanager
def recording_server(answer: bytes = b'{"error": "invalid_grant"}',
                     status: int = 400) -> Iterator[tuple[str, list[str]]]:
    """A server on another port that answers every request with ``status`` + ``answer`` and keeps the text of
    each request it got (request line, headers, body) in the yielded list: where a leaked secret would land."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(f"{self.command} {self.path}\n{self.headers}\n{body.decode('utf-8', 'replace')}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = _record

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url, received
