"""The OAuth grant row as the one token store every process shares (``SingleFlightTokenStore`` storage),
and the request log writer every connector's transport uses.

A refresh happens inside ``transaction.atomic()`` holding ``select_for_update()`` on the grant row
(PostgreSQL); on SQLite the IMMEDIATE transaction takes the database write lock, which serialises
refreshers the same way. The new pair is committed before the lock is released and before anyone uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from lib.http import RequestRecord

from .models import AuthEvent, HttpClient, OAuthGrant, RequestLog
from .tokens import SingleFlightTokenStore, Token

__all__ = ["DjangoRequestLogger", "GrantRowStore", "save_token", "token_of"]

log = logging.getLogger(__name__)


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def token_of(grant: OAuthGrant, token_class: type[Token] = Token) -> Token | None:
    if not (grant.refresh_token or grant.access_token) or grant.issued_at is None or grant.expires_at is None:
        return None
    return token_class(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_in=grant.expires_in,
        issued_at=_ts(grant.issued_at),
        expires_at=_ts(grant.expires_at),
        version=grant.version,
    )


def save_token(grant: OAuthGrant, token: Token, *, refreshed: bool) -> None:
    """Write ``token`` onto ``grant`` (the caller holds the row lock and commits)."""
    now = timezone.now()
    grant.access_token = token.access_token
    grant.refresh_token = token.refresh_token
    grant.expires_in = token.expires_in
    grant.issued_at = _dt(token.issued_at)
    grant.expires_at = _dt(token.expires_at)
    grant.version = token.version
    fields = ["access_token", "refresh_token", "expires_in", "issued_at", "expires_at", "version"]
    if refreshed:
        grant.refreshed_at = now
        grant.refresh_used_at = now
        grant.refresh_count = (grant.refresh_count or 0) + 1
        fields += ["refreshed_at", "refresh_used_at", "refresh_count"]
    grant.save(update_fields=fields)


class GrantRowStore(SingleFlightTokenStore):
    """The grant of one ``HttpClient`` in the database, shared by web processes and workers.

    Subclasses set ``self.client`` (and ``self._cached = None``) in ``__init__`` and implement
    ``fetch_refreshed``; ``system`` names the other side in messages.
    """

    client: HttpClient
    system: str = "the API"
    token_class: type[Token] = Token
    _cached: Token | None = None

    def missing(self) -> Exception:
        status = HttpClient.objects.filter(pk=self.client.pk).values_list("status", "status_message").first()
        if status and status[0] == HttpClient.Status.NEEDS_RECONNECT:
            why = status[1] or "grant access again"
            return self.refused_error(f"{self.client.name} needs to be reconnected: {why}")
        if status and status[0] == HttpClient.Status.REVOKED:
            return self.refused_error(f"Access for {self.client.name} was revoked: grant access again to use it.")
        return self.refused_error(f"{self.client.name} has no access to {self.system} yet: grant access first.")

    def refused_error(self, message: str) -> Exception:
        """The connector's "grant access again" error for ``message``."""
        return LookupError(message)

    def load(self) -> Token | None:
        row = OAuthGrant.objects.filter(client_id=self.client.pk).values_list("version", "client__status").first()
        if row is None or row[1] != HttpClient.Status.GRANTED:
            self._cached = None
            return None
        if self._cached is not None and self._cached.version == row[0]:
            return self._cached
        grant = OAuthGrant.objects.filter(client_id=self.client.pk).first()
        self._cached = token_of(grant, self.token_class) if grant else None
        return self._cached

    def current_secrets(self) -> list[str]:
        token = self._cached
        return [token.access_token, token.refresh_token] if token else []

    @contextmanager
    def locked(self) -> Iterator[tuple[Token | None, Callable[[Token], Token]]]:
        with transaction.atomic():
            grant = (
                OAuthGrant.objects.select_for_update(of=("self",))
                .select_related("client")
                .filter(client_id=self.client.pk)
                .first()
            )
            usable = grant is not None and grant.client.status == HttpClient.Status.GRANTED
            token = token_of(grant, self.token_class) if usable and grant is not None else None

            def save(new: Token) -> Token:
                assert grant is not None
                save_token(grant, new, refreshed=True)
                self._cached = new
                return new

            yield token, save

    def on_refreshed(self, old: Token, new: Token) -> None:
        AuthEvent.record(self.client, AuthEvent.Event.REFRESHED,
                         f"Access token refreshed (grant version {new.version}); valid for {new.expires_in:g} s.",
                         details={"version": new.version, "expires_in": new.expires_in})

    def on_refused(self, error: Exception) -> None:
        message = str(getattr(error, "message", "") or error)
        with transaction.atomic():
            OAuthGrant.objects.filter(client_id=self.client.pk).update(access_token="", refresh_token="")
            self.client.mark_needs_reconnect(message)
        self._cached = None
        AuthEvent.record(self.client, AuthEvent.Event.REFRESH_REFUSED, message,
                         details={"status": getattr(error, "status", None), "reason": getattr(error, "reason", "")})
        AuthEvent.record(self.client, AuthEvent.Event.RECONNECT_NEEDED,
                         f"{self.client.name} needs to be reconnected: grant access to {self.system} again.")
        log.warning("%s refused the refresh for client %s: %s", self.system, self.client.pk, message)

    def refresh_now(self) -> Token:
        """Refresh as soon as the server allows (keep-alive); waits for the window if it is not open yet."""
        token = self.load()
        if token is None:
            raise self.missing()
        return self.refresh(seen_version=token.version, force=False)

    def store_new_grant(self, token: Token, *, user: Any) -> OAuthGrant:
        """Save a freshly granted pair (after a code exchange) and mark the client granted."""
        now = timezone.now()
        with transaction.atomic():
            grant, _ = OAuthGrant.objects.select_for_update().get_or_create(client=self.client)
            save_token(grant, Token(**{**vars(token), "version": grant.version + 1}), refreshed=False)
            grant.granted_by = user if getattr(user, "is_authenticated", False) else None
            grant.granted_at = now
            grant.refresh_used_at = now
            grant.save(update_fields=["granted_by", "granted_at", "refresh_used_at"])
            HttpClient.objects.filter(pk=self.client.pk).update(status=HttpClient.Status.GRANTED, status_message="",
                                                               updated_at=now)
        self.client.status, self.client.status_message = HttpClient.Status.GRANTED, ""
        self._cached = None
        return grant


class DjangoRequestLogger:
    """Writes each (already redacted) request of a client with *Log requests* on to ``RequestLog``."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def log(self, record: RequestRecord) -> None:
        RequestLog.objects.create(
            client_id=self.client.pk,
            kind=record.kind,
            method=record.method,
            url=record.url,
            status=record.status,
            duration_ms=record.duration_ms,
            request_headers=record.request_headers,
            request_body=record.request_body,
            response_headers=record.response_headers,
            response_body=record.response_body,
            error=record.error,
        )
