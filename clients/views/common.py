"""The access-scoped getter every client view starts with."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from dashboard.access import get_for_user

from ..models import HttpClient
from ..registry import ClientType, get_client_type

__all__ = ["client_type_of", "get_client_for_user"]


def get_client_for_user(request: HttpRequest, pk: int | str, *, write: bool = False) -> HttpClient:
    return get_for_user(request, HttpClient.objects.select_related("created_by"), pk, write=write)


def client_type_of(client: HttpClient) -> ClientType:
    try:
        return get_client_type(client.kind)
    except LookupError:
        raise Http404(f"The client type {client.kind!r} is not installed") from None
