"""The platform's answer to the *HTTP lookup* transformer step: route it to the lookup provider of the
client's type (``clients.registry.LOOKUP_PROVIDERS``), whichever connector registered it."""

from __future__ import annotations

from typing import Any

from clients.models import HttpClient
from clients.registry import LOOKUP_PROVIDERS, LookupFailed
from configuration.variables import UnknownVariable, resolved

from .transformers import ServiceError

__all__ = ["lookup_through_client"]


def _client(ref: Any) -> HttpClient:
    text = str(ref if ref is not None else "").strip()
    client = HttpClient.objects.filter(pk=int(text)).first() if text.isdigit() else None
    if client is None and text:
        client = HttpClient.objects.filter(name=text).first()
    if client is None:
        raise ServiceError(f"HTTP lookup: there is no HTTP client {text!r}")
    try:
        return resolved(client)
    except UnknownVariable as exc:
        raise ServiceError(f"HTTP lookup through {client.name!r}: {exc}") from None


def lookup_through_client(ref: Any, request: dict[str, Any]) -> Any:
    """``ref`` is the client's id (or name); ``request`` has method, path, query and body."""
    client = _client(ref)
    provider = LOOKUP_PROVIDERS.find(client.kind)
    if provider is None:
        raise ServiceError(f"HTTP lookup: the client {client.name!r} ({client.kind}) cannot answer lookups")
    try:
        return provider().lookup(client, request)
    except LookupFailed as exc:
        raise ServiceError(f"HTTP lookup {request.get('method', 'GET')} {request.get('path', '')}: {exc}",
                           retryable=exc.transient) from None
