"""Who may talk to the sandbox, checked before any handler runs.

The sandbox is a test double, but it listens on a real port and its control API can reset data, move the
clock and inject faults. So:

- only Host names in ``SANDBOX_ALLOWED_HOSTS`` are answered (a web page cannot reach it by DNS rebinding);
- the control API (``/sandbox/api/...``, all but ``health``) wants ``SANDBOX_CONTROL_TOKEN`` in the
  ``X-Sandbox-Token`` header and JSON bodies only (a cross-site form can send neither);
- the HTML forms (app registration, reset, the OAuth login) carry a CSRF token that must match the
  ``sandbox_csrf`` cookie (double submit), and a POST whose ``Origin`` is another site is refused.
"""

from __future__ import annotations

import hmac
import re
import secrets

from django.conf import settings

from .http import Request, Response, json_response

__all__ = ["CONTROL_TOKEN_HEADER", "CSRF_COOKIE", "CSRF_FIELD", "control_refusal", "csrf_cookie_header",
           "csrf_refusal", "form_token", "host_refusal"]

CONTROL_TOKEN_HEADER = "X-Sandbox-Token"
CSRF_COOKIE = "sandbox_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_JSON_TYPES = ("application/json",)


def _host_name(host: str) -> str:
    """``example.com:8001`` -> ``example.com``; ``[::1]:8001`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_refusal(request: Request) -> Response | None:
    """400 unless the Host header names this sandbox (``SANDBOX_ALLOWED_HOSTS``; ``*`` allows any)."""
    allowed = {h.strip().lower() for h in settings.SANDBOX_ALLOWED_HOSTS}
    name = _host_name(request.headers.get("host", ""))
    if "*" in allowed or (name and name in allowed):
        return None
    return Response(400, "Bad Request: this sandbox does not answer to that Host name "
                         "(add it to SANDBOX_ALLOWED_HOSTS).", content_type="text/plain; charset=utf-8")


def control_refusal(request: Request) -> Response | None:
    """401 without the right token, 415 for a body that is not JSON."""
    expected = str(settings.SANDBOX_CONTROL_TOKEN or "")
    given = request.headers.get(CONTROL_TOKEN_HEADER.lower(), "")
    if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return json_response({"error": f"the control API needs the sandbox's token in the {CONTROL_TOKEN_HEADER} "
                                       "header (SANDBOX_CONTROL_TOKEN)"}, 401)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.body and content_type not in _JSON_TYPES:
        return json_response({"error": "the control API takes JSON bodies only (Content-Type: application/json)"},
                             415)
    return None


def _cookie_token(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if _TOKEN_SHAPE.match(value) else ""


def form_token(request: Request) -> str:
    """The token a page puts in its forms: the browser's cookie, or a new one that the answer sets."""
    token = _cookie_token(request)
    if not token:
        token = request.new_csrf_cookie = request.new_csrf_cookie or secrets.token_urlsafe(32)
    return token


def csrf_cookie_header(request: Request) -> tuple[str, str] | None:
    """The ``Set-Cookie`` header for a token made by ``form_token`` during this request, if any."""
    if not request.new_csrf_cookie:
        return None
    return ("Set-Cookie", f"{CSRF_COOKIE}={request.new_csrf_cookie}; Path=/; HttpOnly; SameSite=Lax")


def csrf_refusal(request: Request) -> Response | None:
    """403 for a form POST without the page's token, or sent from another site."""
    origin = request.headers.get("origin", "")
    if origin and origin.lower() != request.host_url.lower():
        return _forbidden("the form was sent from another site")
    cookie = _cookie_token(request)
    field = request.form().get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode("utf-8"), field.encode("utf-8")):
        return _forbidden("the form's security token is missing or stale: reload the page and send it again")
    return None


def _forbidden(reason: str) -> Response:
    return Response(403, f"Forbidden: {reason}.", content_type="text/plain; charset=utf-8")
