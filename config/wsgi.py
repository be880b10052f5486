"""The WSGI application (gunicorn, and ``runserver`` through ``WSGI_APPLICATION``).

Requests to a hook, ``/hooks/<token>/``, go through a handler with only ``HOOK_MIDDLEWARE``: the endpoint
needs no session, user, CSRF token, messages, htmx or audit context (its view is public, CSRF-exempt and
answers JSON), and the full stack cost about a tenth of its CPU per request. Everything else goes through
``settings.MIDDLEWARE`` as usual.
"""

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Security headers (nosniff, referrer policy) and, in production, the redirect to https.
HOOK_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
HOOK_PATH = re.compile(r"/hooks/[^/]+/\Z")  # exactly the URL pattern named "hook"; anything else: the full stack


class HookHandler(WSGIHandler):
    """Django's WSGI handler (signals, connection handling, URL resolving, error pages) with HOOK_MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        """``BaseHandler.load_middleware`` for synchronous middleware without view, template-response or
        exception hooks (SecurityMiddleware has none): the chain of HOOK_MIDDLEWARE around the view."""
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(HOOK_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler


site = get_wsgi_application()
hooks = HookHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if HOOK_PATH.match(environ.get("PATH_INFO", "")):
        return hooks(environ, start_response)
    return site(environ, start_response)
