"""A small real HTTP API and OAuth 2 authorization server (threaded ``http.server`` on a free port) for the
generic HTTP connector's tests: every paging style, every auth method, misbehaviour on demand."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ITEMS = [{"id": i, "name": f"Item {i}", "updated_at": f"2026-01-01T00:00:{i:02d}Z"} for i in range(1, 24)]


@dataclass
class Issued:
    access_token: str
    refresh_token: str
    valid: bool = True


@dataclass
class State:
    """What the server expects and what it saw; tests change it between calls."""

    auth: dict[str, str] = field(default_factory=lambda: {"mode": "none"})
    client_id: str = "shop-client"
    client_secret: str = "s3cret-client-secret"
    expires_in: int = 3600
    items: list[dict[str, Any]] = field(default_factory=lambda: [dict(item) for item in ITEMS])
    tokens: dict[str, Issued] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)  # next answers: status, headers, body
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def log_message(self, *args: Any) -> None:  # quiet
        return

    # -- helpers ---------------------------------------------------------------------------------------
    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None, content_type: str = "application/json") -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        auth = self.server.state.auth
        header = self.headers.get("Authorization", "")
        mode = auth["mode"]
        if mode == "none":
            return True
        if mode == "basic":
            expected = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
            return header == f"Basic {expected}"
        if mode == "bearer":
            return header == f"Bearer {auth['token']}"
        if mode == "api_key_header":
            return self.headers.get(auth["name"]) == auth["key"]
        if mode == "api_key_query":
            return query.get(auth["name"], [""])[0] == auth["key"]
        if mode == "oauth":
            token = header.removeprefix("Bearer ")
            issued = self.server.state.tokens.get(token)
            return issued is not None and issued.valid
        return False

    def _page(self, items: list[dict[str, Any]], start: int, size: int) -> list[dict[str, Any]]:
        return items[start:start + size]

    # -- routes ----------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body = self._body()
        state = self.server.state
        with state.lock:
            state.requests.append({"method": method, "path": parts.path, "query": {k: v[0] for k, v in query.items()},
                                   "headers": dict(self.headers), "body": body.decode("utf-8", "replace")})
        if parts.path == "/oauth/authorize":
            return self._authorize(query)
        if parts.path == "/oauth/token":
            return self._token(body)
        if not self._authorized(query):
            return self._send(401, {"error": {"message": "invalid credentials"}})
        if state.script:
            status, headers, answer = state.script.pop(0)
            return self._send(status, answer, headers)
        if parts.path == "/html":
            return self._send(200, raw=b"<!doctype html><html><body>Maintenance</body></html>",
                              content_type="text/html")
        if parts.path == "/big":
            return self._send(200, raw=b'{"data": "' + b"x" * 11_000_000 + b'"}')
        if parts.path == "/loop":
            return self._send(200, {"data": [{"id": 1}], "next_url": f"{self.server.url}/loop"})
        if parts.path == "/elsewhere":
            return self._send(200, {"data": [{"id": 1}], "next_url": "http://other.invalid:9/steal"})
        if parts.path.startswith("/items"):
            return self._items(parts.path, query)
        if method in ("POST", "PUT", "PATCH"):
            payload = json.loads(body or b"null")
            with state.lock:
                state.posted.append({"method": method, "path": parts.path, "body": payload,
                                     "idempotency_key": self.headers.get("Idempotency-Key")})
            return self._send(201 if method == "POST" else 200, {"id": f"r{len(state.posted)}", **(payload or {})})
        if method == "DELETE":
            return self._send(204)
        return self._send(404, {"error": {"message": "no such path"}})

    def _items(self, path: str, query: dict[str, list[str]]) -> None:
        state = self.server.state
        items = state.items
        after = query.get("updated_after", [""])[0]
        if after:
            items = [item for item in items if item["updated_at"] > after]
        size = int(query.get("limit", ["5"])[0])
        style = path.removeprefix("/items").strip("/") or "page"
        base = f"{self.server.url}{path}"
        if style == "page":
            page = int(query.get("page", ["1"])[0])
            return self._send(200, {"data": self._page(items, (page - 1) * size, size)})
        if style == "offset":
            offset = int(query.get("offset", ["0"])[0])
            return self._send(200, {"results": self._page(items, offset, size), "total": len(items)})
        start = int(query.get("cursor", [query.get("after", ["0"])[0]])[0] or 0)
        chunk = self._page(items, start, size)
        more = start + size < len(items)
        following = {**{k: v[0] for k, v in query.items()}, "cursor": str(start + size)}
        next_url = f"{base}?{urlencode(following)}" if more else None
        if style == "cursor":
            return self._send(200, {"data": chunk, "meta": {"next": str(start + size) if more else None}})
        if style == "next":
            return self._send(200, {"data": chunk, "links": {"next": next_url}})
        if style == "link":
            headers = {"Link": f'<{next_url}>; rel="next", <{base}>; rel="first"'} if more else {}
            return self._send(200, chunk, headers)
        return self._send(404, {"error": {"message": "no such paging style"}})

    # -- OAuth 2 ---------------------------------------------------------------------------------------
    def _authorize(self, query: dict[str, list[str]]) -> None:
        state = self.server.state
        params = {k: v[0] for k, v in query.items()}
        if params.get("client_id") != state.client_id or params.get("response_type") != "code":
            return self._send(400, {"error": "invalid_request"})
        code = secrets.token_urlsafe(16)
        state.codes[code] = params
        target = f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params.get('state', '')})}"
        return self._send(302, headers={"Location": target})

    def _issue(self) -> dict[str, Any]:
        issued = Issued(access_token=secrets.token_urlsafe(24), refresh_token=secrets.token_urlsafe(24))
        self.server.state.tokens[issued.access_token] = issued
        return {"access_token": issued.access_token, "token_type": "Bearer",
                "expires_in": self.server.state.expires_in, "refresh_token": issued.refresh_token}

    def _token(self, body: bytes) -> None:
        state = self.server.state
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", client_id)
            form.setdefault("client_secret", client_secret)
        with state.lock:
            state.token_requests.append(form)
        if form.get("client_id") != state.client_id:
            return self._send(401, {"error": "invalid_client", "error_description": "unknown client"})
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_secret") != state.client_secret:
                return self._send(401, {"error": "invalid_client", "error_description": "bad secret"})
            answer = self._issue()
            answer.pop("refresh_token")
            return self._send(200, answer)
        if grant == "authorization_code":
            pending = state.codes.pop(form.get("code", ""), None)
            if pending is None:
                return self._send(400, {"error": "invalid_grant", "error_description": "unknown code"})
            challenge = pending.get("code_challenge")
            if challenge:
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).decode().rstrip("=") != challenge:
                    return self._send(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            return self._send(200, self._issue())
        if grant == "refresh_token":
            found = [t for t in state.tokens.values() if t.refresh_token == form.get("refresh_token") and t.valid]
            if not found:
                return self._send(400, {"error": "invalid_grant", "error_description": "refresh token revoked"})
            found[0].valid = False
            return self._send(200, self._issue())
        return self._send(400, {"error": "unsupported_grant_type"})


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)  # stop() waits one poll

    def start(self) -> ApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
