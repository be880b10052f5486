"""OAuth 2 token pairs and the single-flight refresh every OAuth connector shares (no Django here).

``SingleFlightTokenStore`` is the algorithm: read the token; when it must be refreshed, enter the storage's
exclusive section (a row lock in ``clients.grants``, a thread lock in memory), re-read, refresh only if
nobody else did meanwhile (the ``version`` is unchanged), save the new pair before leaving the section,
then use it. Connectors supply when to refresh (``plan``), how (``fetch_refreshed``) and what a refusal is.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

import requests
from requests_oauthlib import OAuth2Session

from lib.http import Transport

__all__ = ["InMemoryTokenStorage", "SingleFlightTokenStore", "Token", "TransportOAuth2Session"]


@dataclass(frozen=True)
class Token:
    """A token pair with its timing in epoch seconds; ``version`` counts refreshes of the stored grant."""

    access_token: str
    refresh_token: str
    expires_in: float
    issued_at: float  # when we received it (the server issued it no later)
    expires_at: float  # when we sent the request + expires_in (the server's expiry is no earlier)
    version: int = 0


class SingleFlightTokenStore(ABC):
    """Where API calls get a token that is valid to send right now, refreshed by one process at a time."""

    refused_errors: tuple[type[Exception], ...] = ()  # refresh errors that mean "grant access again"

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self.sleep = sleep
        self.clock = clock

    # -- storage ---------------------------------------------------------------------------------------
    @abstractmethod
    def load(self) -> Token | None:
        """An unlocked read of the stored token (None: no usable grant)."""

    @abstractmethod
    @contextmanager
    def locked(self) -> Iterator[tuple[Token | None, Callable[[Token], Token]]]:
        """An exclusive section yielding the re-read token and a ``save`` whose write commits on exit."""

    # -- policy ----------------------------------------------------------------------------------------
    @abstractmethod
    def fetch_refreshed(self, token: Token) -> Token:
        """Ask the token endpoint for a new pair (raises the connector's errors)."""

    def plan(self, token: Token, now: float) -> tuple[Literal["use", "refresh"], float]:
        """Use ``token``, or refresh it after waiting the returned seconds (default: refresh in its last 10 %
        or last 30 s, whichever is longer)."""
        margin = max(30.0, token.expires_in * 0.1)
        return ("use", 0.0) if now < token.expires_at - margin else ("refresh", 0.0)

    def refresh_wait(self, token: Token) -> float:
        """Seconds to wait before a refresh the server would refuse as too early (0: none)."""
        return 0.0

    def missing(self) -> Exception:
        return LookupError("Access has not been granted (or was revoked): grant access first.")

    def on_refreshed(self, old: Token, new: Token) -> None:
        """Called after a refresh was committed."""
        return None

    def on_refused(self, error: Exception) -> None:
        """Called (outside the lock) when the server refused the refresh (one of ``refused_errors``)."""
        return None

    # -- the algorithm ---------------------------------------------------------------------------------
    def access_token(self) -> str:
        token = self.load()
        if token is None:
            raise self.missing()
        action, wait = self.plan(token, self.clock())
        if action == "use":
            return token.access_token
        if wait > 0:
            self.sleep(wait)
        return self.refresh(seen_version=token.version, force=False).access_token

    def after_unauthorized(self, used_token: str) -> str:
        """A 401 came back for ``used_token``: refresh once (unless another process already did)."""
        token = self.load()
        if token is None:
            raise self.missing()
        if token.access_token != used_token:
            return token.access_token  # another process refreshed meanwhile
        return self.refresh(seen_version=token.version, force=True).access_token

    def refresh(self, *, seen_version: int, force: bool) -> Token:
        failure: Exception | None = None
        old: Token | None = None
        new: Token | None = None
        with self.locked() as (current, save):
            if current is None:
                raise self.missing()
            if current.version != seen_version:
                return current  # refreshed by someone else while we waited for the lock
            if not force:
                wait = self.refresh_wait(current)
                if wait > 0:
                    self.sleep(wait)
            old = current
            try:
                fresh = self.fetch_refreshed(current)
            except Exception as exc:  # the connector's error: re-raised below, after the lock is released
                failure = exc
            else:
                new = save(replace(fresh, version=current.version + 1))
        if failure is not None:
            if isinstance(failure, self.refused_errors):
                self.on_refused(failure)
            raise failure
        assert new is not None and old is not None
        self.on_refreshed(old, new)
        return new


class InMemoryTokenStorage:
    """Storage for one process (shell scripts, tests), mixed in before a ``SingleFlightTokenStore``: a
    threading lock instead of a row lock. Call ``init_memory(token)`` from ``__init__``."""

    token: Token | None
    refused: Exception | None

    def init_memory(self, token: Token | None) -> None:
        self.token = token
        self.refused = None
        self._lock = threading.Lock()

    def load(self) -> Token | None:
        return self.token

    @contextmanager
    def locked(self) -> Iterator[tuple[Token | None, Callable[[Token], Token]]]:
        with self._lock:

            def save(token: Token) -> Token:
                self.token = token
                return token

            yield self.token, save

    def on_refused(self, error: Exception) -> None:
        self.refused = error
        self.token = None


class TransportOAuth2Session(OAuth2Session):
    """An OAuth2Session (requests-oauthlib builds the requests) whose requests go through a ``Transport``
    (timeouts, destination guard, redacted logs with ``secrets`` scrubbed)."""

    def __init__(self, transport: Transport, secrets: list[str], plain: Callable[[str], str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._secrets = secrets
        self._plain = plain or (lambda url: url)  # maps a URL shown to oauthlib back to the real one
        self.last_sent: Any = None

    def request(  # type: ignore[override]  # oauthlib calls it with these arguments only
        self, method: str, url: str, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        sent = self._transport.send(method, self._plain(url), kind="auth", data=data, headers=headers,
                                    log_secrets=self._secrets)
        self.last_sent = sent
        return sent.response
