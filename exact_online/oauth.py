"""Exact Online OAuth 2: the authorize URL, the code exchange and the refresh, on requests-oauthlib.

requests-oauthlib builds the requests; they are sent through our ``Transport`` (timeouts, redacted
logging) and every token response is validated with pydantic before anything is stored. Exact's token
rules (API.md §2.3, FIELD-NOTES A1-A9) live in ``plan``: an access token lives ``expires_in`` seconds and
a new one may only be requested after 95 % of that (570 of 600 s). ``RefreshingGrantStore`` turns this
into a single-flight refresh over any lock the storage offers (a DB row lock in ``stores.py``).
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from clients.tokens import InMemoryTokenStorage, SingleFlightTokenStore, TransportOAuth2Session
from clients.tokens import Token as BaseToken

from .errors import BadResponse, ExactError, NeedsReconnect, Unavailable
from .hosts import HostPolicy
from .transport import Transport

__all__ = [
    "FLOOR_SAFETY_FRACTION",
    "IN_FLIGHT_FRACTION",
    "IN_FLIGHT_MIN_SECONDS",
    "REFRESH_FLOOR_FRACTION",
    "ExactOAuth",
    "GrantStore",
    "InMemoryGrantStore",
    "RefreshingGrantStore",
    "Token",
    "TokenResponse",
    "plan",
]

# requests-oauthlib logs token request bodies and responses at DEBUG (FIELD-NOTES I1): never let them out.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)

REFRESH_FLOOR_FRACTION = 570 / 600  # Exact refuses a new token before 9:30 of a 10:00 token
FLOOR_SAFETY_FRACTION = 0.005  # + 3 s at 600 s, + 0.05 s for a 10 s sandbox token
IN_FLIGHT_FRACTION = 0.02  # a request must reach Exact this long before expiry: 12 s of a 600 s token,
IN_FLIGHT_MIN_SECONDS = 0.25  # but never less than this (a 2 s sandbox token: its last 0.25 s are not used)

log = logging.getLogger(__name__)


def _digits(value: Any) -> Any:
    """Exact sends ``expires_in`` as a string ("600"); accept digit strings and ints, nothing else."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


class TokenResponse(BaseModel):
    """The token endpoint's 200 body, validated strictly (no unchecked ``resp.json()["access_token"]``)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    access_token: str = Field(min_length=1)
    token_type: str
    expires_in: Annotated[int, BeforeValidator(_digits), Field(gt=0, le=86_400)]
    refresh_token: str = Field(min_length=1)

    def model_post_init(self, context: Any) -> None:
        if self.token_type.lower() != "bearer":
            raise ValueError(f"token_type must be bearer, got {self.token_type!r}")


class TokenError(BaseModel):
    """An RFC 6749 error body: ``{"error": "...", "error_description": "..."}``."""

    model_config = ConfigDict(extra="ignore")

    error: str
    error_description: str = ""


@dataclass(frozen=True)
class Token(BaseToken):
    """A token pair with Exact's timing rules: when a refresh may be asked for, until when it may be sent."""

    @property
    def refresh_opens_at(self) -> float:
        return self.issued_at + self.expires_in * (REFRESH_FLOOR_FRACTION + FLOOR_SAFETY_FRACTION)

    @property
    def send_deadline(self) -> float:
        return self.expires_at - max(self.expires_in * IN_FLIGHT_FRACTION, IN_FLIGHT_MIN_SECONDS)


def exact_token(token: BaseToken) -> Token:
    """``token`` with Exact's timing rules (a stored pair comes back as the platform's plain ``Token``)."""
    return token if isinstance(token, Token) else Token(**vars(token))


def plan(token: BaseToken, now: float) -> tuple[Literal["use", "refresh"], float]:
    """What to do with ``token`` at ``now``: use it, or refresh after waiting the returned seconds.

    - before the refresh window opens and safely before expiry: use it;
    - once the window is open (even long after expiry): refresh now;
    - too close to expiry to send but the window not open yet: wait for the window, then refresh
      (never send a token known to be expiring, never refresh too early).
    """
    token = exact_token(token)
    opens = token.refresh_opens_at
    if now < opens and now < token.send_deadline:
        return "use", 0.0
    if now >= opens:
        return "refresh", 0.0
    return "refresh", opens - now


def _https_twin(base_url: str) -> str:
    """``base_url`` as oauthlib may see it: oauthlib refuses plain http, which only allow-listed hosts (the
    sandbox) may use. Their ``http://`` is shown to oauthlib as ``https://`` and mapped back per request
    (``_plain``), instead of switching oauthlib's check off for the whole process."""
    if urlsplit(base_url).scheme == "http" and HostPolicy.current().plain_http_allowed(base_url):
        return "https://" + base_url[len("http://"):]
    return base_url


REFUSED_REFRESH_HINTS = ("old refresh token", "refresh token expired", "expired at", "chainid", "obsolete")


def describe_token_failure(response: requests.Response, *, during: Literal["code", "refresh"]) -> ExactError:
    """Turn a token endpoint answer that is not a valid token into a typed error a user can act on."""
    status = response.status_code
    text = response.text or ""
    content_type = response.headers.get("Content-Type", "")
    body_json: Any = None
    try:
        body_json = json.loads(text) if text.strip() else None
    except ValueError:
        body_json = None
    if body_json is None and ("html" in content_type.lower() or text.lstrip().lower().startswith("<")):
        if status >= 500 or status == 200:
            return Unavailable(f"Exact Online answered with an HTML page (HTTP {status}) instead of a token. "
                               "It may be in maintenance; try again in a few minutes.", status=status)
        return BadResponse(f"Exact Online answered with an HTML page (HTTP {status}) instead of a token.",
                           status=status)
    if status >= 500 or status in (408, 429, 599):
        return Unavailable(f"Exact Online's token service failed (HTTP {status}); try again later.", status=status)
    if isinstance(body_json, dict) and "error" in body_json:
        try:
            err = TokenError.model_validate(body_json)
        except PydanticValidationError:
            err = TokenError(error=str(body_json.get("error")), error_description="")
        detail = f"{err.error}: {err.error_description}".strip(": ") if err.error_description else err.error
        lowered = f"{err.error} {err.error_description}".lower()
        if "too early" in lowered or "not expired" in lowered or "tooearly" in lowered:
            return ExactError(f"Exact Online refused a new token because the current one is not old enough "
                              f"({detail}).", status=status, reason="TooEarlyToRefreshTokens", permanent=False)
        if err.error == "invalid_client":
            message = f"Exact Online refused the Client ID or Client Secret ({detail}). Check the client settings."
            return NeedsReconnect(message, status=status, reason=err.error) if during == "refresh" else ExactError(
                message, status=status, reason=err.error)
        if during == "code":
            return ExactError(f"Exact Online refused the authorization code ({detail}). A code works once and only "
                              "for a few minutes: click Grant access again.", status=status, reason=err.error)
        if err.error in ("invalid_grant", "unauthorized_client") or any(h in lowered for h in REFUSED_REFRESH_HINTS):
            return NeedsReconnect(f"Exact Online refused to refresh the access ({detail}). Grant access again to "
                                  "reconnect.", status=status, reason=err.error)
        return NeedsReconnect(f"Exact Online refused the token request ({detail}). Grant access again to reconnect.",
                              status=status, reason=err.error)
    if status == 200:
        return BadResponse("Exact Online's token response was not a valid token (expected access_token, "
                           "token_type, expires_in and refresh_token).", status=status)
    return BadResponse(f"Exact Online's token service answered HTTP {status} without an explanation.", status=status)


class ExactOAuth:
    """Authorize URL, code exchange and refresh for one app registration on one Exact region."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.transport = transport or Transport()
        self.clock = clock
        self.auth_url = f"{self.base_url}/api/oauth2/auth"
        self.token_url = f"{self.base_url}/api/oauth2/token"
        self._oauthlib_base = _https_twin(self.base_url)  # what oauthlib sees (see _https_twin)

    def _oauthlib_url(self, url: str) -> str:
        return self._oauthlib_base + url[len(self.base_url):]

    def _plain(self, url: str) -> str:
        """A URL oauthlib built, back on the real Base URI (``http://`` for an allow-listed host)."""
        if self._oauthlib_base != self.base_url and url.startswith(self._oauthlib_base + "/"):
            return self.base_url + url[len(self._oauthlib_base):]
        return url

    def _session(self, secrets: list[str]) -> TransportOAuth2Session:
        return TransportOAuth2Session(self.transport, [self.client_secret, *secrets], self._plain,
                                      client_id=self.client_id, redirect_uri=self.redirect_uri)

    def authorization_url(self, *, state: str, force_login: bool = False) -> str:
        HostPolicy.current().check_url(self.auth_url)  # the browser is sent there: the same rule as requests
        session = self._session([])
        url, _state = session.authorization_url(self._oauthlib_url(self.auth_url), state=state,
                                                force_login="1" if force_login else "0")
        return self._plain(url)

    def exchange_code(self, code: str) -> Token:
        session = self._session([code])
        return self._token_call(
            session,
            "access_token_response",
            lambda: session.fetch_token(self._oauthlib_url(self.token_url), code=code, include_client_id=True,
                                        client_secret=self.client_secret),
            during="code",
        )

    def refresh(self, refresh_token: str) -> Token:
        session = self._session([refresh_token])
        return self._token_call(
            session,
            "refresh_token_response",
            lambda: session.refresh_token(self._oauthlib_url(self.token_url), refresh_token=refresh_token,
                                          client_id=self.client_id,
                                          client_secret=self.client_secret),
            during="refresh",
        )

    def _token_call(
        self, session: TransportOAuth2Session, hook: Literal["access_token_response", "refresh_token_response"],
        call: Callable[[], Any], *, during: Literal["code", "refresh"],
    ) -> Token:
        HostPolicy.current().check_url(self.token_url)  # before oauthlib's own (https-only) check
        validated: dict[str, TokenResponse] = {}

        def check(response: requests.Response) -> requests.Response:
            try:
                validated["token"] = TokenResponse.model_validate_json(response.content or b"null")
            except (PydanticValidationError, ValueError):
                log.warning("Exact Online token endpoint answered HTTP %s with an unusable body", response.status_code)
                raise describe_token_failure(response, during=during) from None
            if response.status_code != 200:
                log.warning("Exact Online token endpoint answered HTTP %s with a token; keeping it",
                            response.status_code)
                response.status_code = 200  # a rate-limited refresh may still carry the new pair (A5)
            return response

        session.register_compliance_hook(hook, check)
        sent_before = self.clock()
        try:
            call()
        except ExactError:
            raise
        except Exception as exc:  # oauthlib's own checks on a body we already validated
            raise BadResponse(f"Exact Online's token response was not usable ({type(exc).__name__}).") from None
        token = validated["token"]
        sent = session.last_sent
        sent_at = sent.sent_at if sent is not None else sent_before
        received_at = sent.received_at if sent is not None else self.clock()
        return Token(
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_in=float(token.expires_in),
            issued_at=received_at,
            expires_at=sent_at + token.expires_in,
        )


class GrantStore(ABC):
    """Where ``ExactApi`` gets a token that is valid to send right now."""

    @abstractmethod
    def access_token(self) -> str: ...

    @abstractmethod
    def after_unauthorized(self, used_token: str) -> str:
        """A 401 came back for ``used_token``: refresh once (unless another process already did)."""


class RefreshingGrantStore(SingleFlightTokenStore, GrantStore):
    """The platform's single-flight refresh (``clients.tokens``) with Exact's rules: refresh only once the
    window opens (``plan``), through ``ExactOAuth``; a ``NeedsReconnect`` is a refused grant.

    Subclasses provide ``load``, ``locked`` and the ``on_refreshed`` / ``on_refused`` hooks.
    """

    refused_errors = (NeedsReconnect,)

    def __init__(self, oauth: ExactOAuth, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(sleep=sleep, clock=clock)
        self.oauth = oauth

    def plan(self, token: BaseToken, now: float) -> tuple[Literal["use", "refresh"], float]:
        return plan(token, now)

    def refresh_wait(self, token: BaseToken) -> float:
        return exact_token(token).refresh_opens_at - self.clock()

    def fetch_refreshed(self, token: BaseToken) -> Token:
        return self.oauth.refresh(token.refresh_token)

    def missing(self) -> Exception:
        return self._missing()

    def _missing(self) -> Exception:
        return NeedsReconnect("Access to Exact Online has not been granted (or was revoked): grant access first.")

    def _refresh(self, *, seen_version: int, force: bool) -> BaseToken:
        return self.refresh(seen_version=seen_version, force=force)


class InMemoryGrantStore(InMemoryTokenStorage, RefreshingGrantStore):
    """A grant store for one process (shell scripts, tests): a threading lock instead of a row lock."""

    def __init__(self, oauth: ExactOAuth, token: BaseToken | None, **kwargs: Any) -> None:
        RefreshingGrantStore.__init__(self, oauth, **kwargs)
        self.init_memory(token)
