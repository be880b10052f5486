"""The access-scoped getter every client view starts with."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from ..models import HttpClient
from ..registry import ClientType, get_client_type

__all__ = ["client_type_of", "get_client_for_user"]


def get_client_for_user(request: HttpRequest, pk: int | str, *, write: bool = False) -> HttpClient:
    """The client ``pk`` if the user may see it (the role decorators already checked read/write), else 404.

    All roles share all clients today; ownership rules, if they come, go here and nowhere else.
    """
    try:
        return HttpClient.objects.select_related("created_by").get(pk=int(pk))
    except (HttpClient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such HTTP client") from None


def client_type_of(client: HttpClient) -> ClientType:
    try:
        return get_client_type(client.kind)
    except LookupError:
        raise Http404(f"The client type {client.kind!r} is not installed") from None
