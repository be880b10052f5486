"""The one way to ask whether a request came from htmx for a fragment of a page."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

__all__ = ["is_htmx"]


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a partial; a boosted one (a link followed by htmx) wants the whole page."""
    details = HtmxDetails(request)
    return bool(details) and not details.boosted
