"""The WSGI application the servers run (config.wsgi): a hook request goes through the lean handler (security
headers only: no session, CSRF, auth, messages, CSP), every other request through the whole stack.

Called as gunicorn and runserver call it, with a WSGI environ; the connection handling on request start and
end is left out as Django's test client does (it would close the test's transaction).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_started
from django.db import close_old_connections

from config import wsgi
from webhooks.models import Delivery

from .conftest import sign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    request_started.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)


def _call(method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
                               "CONTENT_TYPE": "application/json", "wsgi.input": io.BytesIO(body),
                               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    setup_testing_defaults(environ)
    started: list[Any] = []
    content = b"".join(wsgi.application(environ, lambda status, headers, *exc: started.append((status, headers))))
    status, header_list = started[0]
    return int(status.split()[0]), {k.lower(): v for k, v in header_list}, content


def test_a_hook_request_is_stored_through_the_lean_handler(make_webhook):
    hook = make_webhook()
    body = json.dumps({"orders": [{"id": 1}]}).encode()
    status, headers, content = _call("POST", hook.hook_path, body, X_SIGNATURE=sign(body))
    assert status == 202
    assert Delivery.objects.get(pk=json.loads(content)["delivery"]).body_bytes() == body
    assert headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware still answers
    assert "content-security-policy" not in headers  # the page stack's middleware did not run
    assert "set-cookie" not in headers and "cookie" not in headers.get("vary", "").lower()


def test_a_refused_hook_request_is_answered_by_the_lean_handler_too(make_webhook):
    hook = make_webhook()
    status, headers, content = _call("POST", hook.hook_path, b'{"orders": []}', X_SIGNATURE="sha256=00")
    assert (status, json.loads(content)) == (401, {"error": "bad signature"})
    assert "content-security-policy" not in headers
    assert not Delivery.objects.exists()


def test_an_error_in_the_hook_view_is_a_500_not_a_crash(make_webhook):
    hook = make_webhook()
    with mock.patch("webhooks.receiver.accept", side_effect=RuntimeError("boom")):
        status, _headers, _content = _call("POST", hook.hook_path, b"{}")
    assert status == 500


@pytest.mark.parametrize("path", ["/health", "/hooks/abc", "/hooks/abc/extra/"])
def test_every_other_path_goes_through_the_whole_stack(path):
    _status, headers, _content = _call("GET", path)
    assert "content-security-policy" in headers
