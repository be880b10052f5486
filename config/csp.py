"""The Content-Security-Policy header on Django 5.2 (Django 6 has ``django.middleware.csp`` and uses that).

Reads the same ``SECURE_CSP`` dictionary as Django 6, without nonce support (the product needs none: no
inline script, style or event handler in its templates).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

__all__ = ["ContentSecurityPolicyMiddleware", "policy_header"]


def policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([directive, *values]) for directive, values in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "SECURE_CSP", None)
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy_header(policy)
        return response
