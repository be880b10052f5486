"""HTTP plumbing of the sandbox: a tiny request/response pair, Exact's error envelope, a threaded WSGI server.

The sandbox is a separate Exact Online, so it does not run through Django's URL resolver, middleware or
login: it is a plain WSGI application served by ``wsgiref`` with one thread per connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

__all__ = ["ApiError", "Request", "Response", "ThreadingWSGIServer", "json_response", "make_server"]

JSON_TYPE = "application/json;charset=utf-8"


class Request:
    """What a handler needs from the WSGI environ."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO", "") or "/"
        self.query_string = environ.get("QUERY_STRING", "")
        self.query_items = parse_qsl(self.query_string, keep_blank_values=True)
        self.headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        self.body = environ["wsgi.input"].read(length) if length > 0 else b""
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        self.host_url = f"{scheme}://{host}"
        self.client_id: str | None = None
        self.division: int | None = None
        self.new_csrf_cookie = ""  # set by guard.form_token when the answer must set the CSRF cookie

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            jar.load(self.headers.get("cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    def option(self, name: str) -> str | None:
        """A query option, looked up case-insensitively (``$filter`` / ``$Filter``)."""
        lowered = name.lower()
        for key, value in self.query_items:
            if key.lower() == lowered:
                return value
        return None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def form_list(self, name: str) -> list[str]:
        return [v for k, v in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True) if k == name]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None


class Response:
    """A status, headers and a body; ``drop`` closes the connection instead of answering."""

    def __init__(self, status: int = 200, body: bytes | str = b"", headers: list[tuple[str, str]] | None = None,
                 content_type: str | None = JSON_TYPE) -> None:
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = list(headers or [])
        if content_type and self.body:
            self.headers.append(("Content-Type", content_type))
        self.drop = False

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"


def json_response(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":"), ensure_ascii=False), headers)


class ApiError(Exception):
    """An error Exact answers with its OData envelope ``{"error":{"code":"","message":{...}}}``."""

    def __init__(self, status: int, message: str, *, headers: list[tuple[str, str]] | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers or [])
        if reason:
            self.headers.append(("Reason", reason))

    def response(self) -> Response:
        body = {"error": {"code": "", "message": {"lang": "", "value": self.message}}}
        return json_response(body, self.status, self.headers)


def www_authenticate(reason: str) -> tuple[str, str]:
    """Exact puts the 401 reason in ``WWW-Authenticate``, URL-encoded (clients ``unquote`` it)."""
    return ("WWW-Authenticate", f'Bearer realm="Exact Online", error="invalid_token", '
                                f'error_description="{quote(reason)}"')


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class QuietHandler(WSGIRequestHandler):
    """No access log on stderr (the sandbox keeps its own), and the socket in the environ for drops."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["sandbox.socket"] = self.connection
        return env


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer (the write already happened)."""
    sock = environ.get("sandbox.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def make_server(host: str, port: int, app: Any) -> ThreadingWSGIServer:
    server = ThreadingWSGIServer((host, port), QuietHandler)
    server.set_app(app)
    return server
