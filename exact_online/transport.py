"""Exact Online's use of the platform's one outbound HTTP wrapper (``lib.http``): only to allowed addresses
(``hosts.py``: Exact's region hosts and the allow-list, checked again at connect time), and network failures
become ``Unavailable`` naming Exact Online."""

from __future__ import annotations

from typing import Any

from lib import http
from lib.http import REDACTED, RequestLogger, RequestRecord, Sent, redact_body, redact_headers, redact_text, redact_url

from .errors import Unavailable
from .hosts import HostPolicy, address_guard

__all__ = ["REDACTED", "RequestLogger", "RequestRecord", "Sent", "Transport", "redact_body", "redact_headers",
           "redact_text", "redact_url"]


def _check(url: str) -> None:
    HostPolicy.current().check_url(url)


class Transport(http.Transport):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("system", "Exact Online")
        kwargs.setdefault("unreachable", Unavailable)
        kwargs.setdefault("guard", _check)
        kwargs.setdefault("address_guard", address_guard())
        super().__init__(**kwargs)
