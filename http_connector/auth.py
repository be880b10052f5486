"""Authentication of a generic HTTP Client: static credentials, and OAuth 2 on requests-oauthlib.

Static methods (Basic, Bearer, API key) become headers or query parameters of each request. OAuth 2
tokens live in the client's ``OAuthGrant`` row and are refreshed through the platform's single-flight
store (``clients.grants.GrantRowStore``): client credentials fetch a new token when the old one is about to
expire; authorization code (with PKCE) uses the refresh token the server gave, and asks for a new grant
when the server refuses it. Every token response is validated before it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import requests
from oauthlib.oauth2 import BackendApplicationClient
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from clients.grants import GrantRowStore
from clients.models import HttpClient
from clients.tokens import Token, TransportOAuth2Session
from lib.http import Refused, Transport, Unreachable

from .config import RestClientConfig

__all__ = ["GrantRefused", "OAuthClient", "RestTokenStore", "TokenFailure", "code_challenge", "static_auth"]

for _name in ("requests_oauthlib", "oauthlib"):  # they log token bodies at DEBUG: never let them out
    logging.getLogger(_name).setLevel(logging.WARNING)


class TokenFailure(Exception):
    """The token endpoint could not give a token; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.reason = ""


class GrantRefused(TokenFailure):
    """The server refused the credentials or the refresh token: grant access again (or fix the secret)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, permanent=True, status=status)


class TokenAnswer(BaseModel):
    """A token endpoint's 200 body, validated before anything is stored."""

    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    token_type: str = "bearer"
    expires_in: int = Field(default=3600, gt=0, le=31_536_000)
    refresh_token: str = ""


def static_auth(config: RestClientConfig, secrets: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query parameters) that authenticate a request with a static method."""
    if config.auth == "basic":
        pair = f"{config.username}:{secrets.get('password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}, {}
    if config.auth == "bearer":
        return {"Authorization": f"Bearer {secrets.get('token', '')}"}, {}
    if config.auth == "api_key":
        key = secrets.get("api_key", "")
        return ({config.api_key_name: key}, {}) if config.api_key_in == "header" else ({}, {config.api_key_name: key})
    return {}, {}


def code_challenge(verifier: str) -> str:
    """The S256 PKCE challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _for_oauthlib(url: str) -> str:
    """oauthlib refuses http:// URLs; it is shown https:// and the request goes to the real URL (``_plain``).

    Whether a plain-http host may be called at all is the destination guard's decision, per request."""
    return "https://" + url[len("http://"):] if url.startswith("http://") else url


class OAuthClient:
    """Token calls for one generic OAuth 2 client registration (client credentials or authorization code)."""

    def __init__(self, config: RestClientConfig, *, client_secret: str, redirect_uri: str, transport: Transport,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.transport = transport
        self.clock = clock
        self._real = {_for_oauthlib(url): url for url in (config.token_url, config.authorize_url) if url}

    def _plain(self, url: str) -> str:
        for shown, real in self._real.items():
            if url.startswith(shown):
                return real + url[len(shown):]
        return url

    @property
    def scopes(self) -> list[str]:
        return self.config.scopes.replace(",", " ").split()

    def _session(self, extra_secrets: list[str], **kwargs: Any) -> TransportOAuth2Session:
        return TransportOAuth2Session(self.transport, [self.client_secret, *extra_secrets], self._plain,
                                      client_id=self.config.client_id, **kwargs)

    def authorization_url(self, *, state: str, code_verifier: str) -> str:
        session = self._session([], redirect_uri=self.redirect_uri, scope=self.scopes or None)
        extra = {"code_challenge": code_challenge(code_verifier), "code_challenge_method": "S256"} \
            if self.config.pkce else {}
        url, _state = session.authorization_url(_for_oauthlib(self.config.authorize_url), state=state, **extra)
        return self._plain(str(url))

    def exchange_code(self, code: str, *, code_verifier: str) -> Token:
        session = self._session([code, code_verifier], redirect_uri=self.redirect_uri)
        extra: dict[str, Any] = {"code_verifier": code_verifier} if self.config.pkce else {}
        return self._call(session, "access_token_response", lambda: session.fetch_token(
            _for_oauthlib(self.config.token_url), code=code, client_secret=self.client_secret or None,
            include_client_id=True, **extra), during="code")

    def client_credentials(self) -> Token:
        session = self._session([], client=BackendApplicationClient(client_id=self.config.client_id),
                                scope=self.scopes or None)
        extra: dict[str, Any] = {"scope": self.scopes} if self.scopes else {}
        return self._call(session, "access_token_response", lambda: session.fetch_token(
            _for_oauthlib(self.config.token_url), client_id=self.config.client_id, client_secret=self.client_secret,
            include_client_id=True, **extra), during="credentials")

    def refresh(self, refresh_token: str) -> Token:
        session = self._session([refresh_token])
        return self._call(session, "refresh_token_response", lambda: session.refresh_token(
            _for_oauthlib(self.config.token_url), refresh_token=refresh_token, client_id=self.config.client_id,
            client_secret=self.client_secret), during="refresh")

    def _call(self, session: TransportOAuth2Session, hook: Literal["access_token_response", "refresh_token_response"],
              call: Callable[[], Any], *, during: str) -> Token:
        validated: dict[str, TokenAnswer] = {}

        def check(response: requests.Response) -> requests.Response:
            if response.status_code != 200:
                raise _failure(response, during=during)
            try:
                validated["token"] = TokenAnswer.model_validate_json(response.content or b"null")
            except (PydanticValidationError, ValueError):
                raise TokenFailure("The token endpoint answered HTTP 200 without a usable token (expected "
                                   "access_token).", permanent=True, status=200) from None
            if validated["token"].token_type.lower() != "bearer":
                raise TokenFailure(f"The token endpoint gave a {validated['token'].token_type!r} token; only bearer "
                                   "tokens are supported.", permanent=True, status=200)
            return response

        session.register_compliance_hook(hook, check)
        started = self.clock()
        try:
            call()
        except (TokenFailure, Refused):
            raise
        except Unreachable as exc:
            raise TokenFailure(f"The token endpoint could not be reached: {exc.message}") from None
        except Exception as exc:  # oauthlib's own checks on a body we already validated
            raise TokenFailure(f"The token response was not usable ({type(exc).__name__}).", permanent=True) from None
        token = validated["token"]
        return Token(access_token=token.access_token, refresh_token=token.refresh_token,
                     expires_in=float(token.expires_in), issued_at=self.clock(), expires_at=started + token.expires_in)


def _failure(response: requests.Response, *, during: str) -> TokenFailure:
    status = response.status_code
    try:
        body = json.loads(response.text or "null")
    except ValueError:
        body = None
    if status >= 500 or status in (408, 429):
        return TokenFailure(f"The token endpoint failed (HTTP {status}); try again later.", status=status)
    if isinstance(body, dict) and body.get("error"):
        detail = str(body.get("error"))[:100]
        description = str(body.get("error_description") or "")[:200]
        text = f"{detail}: {description}" if description else detail
        if during == "code":
            return TokenFailure(f"The authorization server refused the code ({text}). Click Grant access again.",
                                permanent=True, status=status)
        if during == "refresh":
            return GrantRefused(f"The authorization server refused the refresh ({text}). Grant access again.",
                                status=status)
        return GrantRefused(f"The authorization server refused the credentials ({text}). Check the client's "
                            "Client ID and Client Secret.", status=status)
    return TokenFailure(f"The token endpoint answered HTTP {status} without an OAuth error body.", permanent=True,
                        status=status)


class RestTokenStore(GrantRowStore):
    """The OAuth 2 token of one generic HTTP Client, refreshed by one process at a time."""

    refused_errors = (GrantRefused,)
    system = "the API"

    def __init__(self, client: HttpClient, oauth: OAuthClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.oauth = oauth
        self._cached = None
        self.system = client.name

    def refused_error(self, message: str) -> Exception:
        return GrantRefused(message)

    def fetch_refreshed(self, token: Token) -> Token:
        if token.refresh_token:
            return self.oauth.refresh(token.refresh_token)
        if self.oauth.config.auth == "oauth2_client_credentials":
            return self.oauth.client_credentials()
        raise GrantRefused(f"{self.client.name}: the access token expired and the server gave no refresh token; "
                           "grant access again.")

    def access_token(self) -> str:
        if self.oauth.config.auth == "oauth2_client_credentials" and self.load() is None:
            self.store_new_grant(self.oauth.client_credentials(), user=None)
        return super().access_token()
