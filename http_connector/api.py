"""The HTTP layer of a generic HTTP Client: one request at a time, authenticated, limited, logged, guarded.

``RestApi(client)`` works from anywhere (web, worker, shell). It only calls the client's own Base URI host
(an absolute URL on another host, e.g. a paging link, is refused before sending), refuses private addresses
unless an administrator allows them (``lib.http.AddressGuard``), caps answers at
``OUTBOUND_MAX_BYTES``, waits for a slot of the shared requests-per-minute limit, and maps every failure to
a ``CallError`` that says whether a retry can help (4xx permanent except 408, 409, 425 and 429).

Workers never sleep on the other side (``RestApi(client, max_wait=0)``, no retries): ``wait_for`` turns a
429, a used-up requests-per-minute limit or an outage (no answer, 408, 502, 503, 504) into ``WaitUntil``
(``connections.waits``): the batch or page is deferred to the server's ``Retry-After`` (or
``DASH_HTTP_OUTAGE_WAIT``) without spending an attempt. A plain 500 stays a transient ``CallError``: an attempt.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import reverse

from clients.grants import DjangoRequestLogger
from clients.models import HttpClient
from clients.usage import counter_for
from connections.waits import WaitUntil
from lib.http import AddressGuard, Refused, Transport, Unreachable, redact_text, same_origin

from .auth import GrantRefused, OAuthClient, RestTokenStore, TokenFailure, static_auth
from .config import OAUTH, RestClientConfig

__all__ = ["OUTAGE_STATUSES", "TRANSIENT_4XX", "Answer", "CallError", "RestApi", "guard", "redirect_uri", "wait_for"]

TRANSIENT_4XX = frozenset({408, 409, 425, 429})
OUTAGE_STATUSES = frozenset({408, 502, 503, 504})  # "not now": the server or its gateway is down or busy
DEFAULT_429_WAIT = 60.0  # seconds a 429 without a Retry-After waits
MAX_RATE_WAIT = 60.0  # seconds a caller waits for a slot of the shared limit before giving up (transient)
PREVIEW_BYTES = 500


def redirect_uri() -> str:
    """The OAuth redirect URI to register at the authorization server (this site's callback)."""
    return settings.SITE_URL.rstrip("/") + reverse("clients:oauth_callback")


class CallError(Exception):
    """A call failed. ``permanent``: the same request will fail again; ``retry_after``: the server's wait."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None, retry_after: float | None = None,
                 body: str = "", limited: bool = False, unanswered: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.limited = limited  # the client's own requests-per-minute limit: nothing was sent
        self.unanswered = unanswered  # no answer (refused, reset, timed out): it may have reached the server


def wait_for(error: CallError, name: str) -> WaitUntil | None:
    """The wait ``error`` means for a worker, or None when it is an answer (a refusal, a plain 500: an attempt).

    A 429 or the client's used-up limit waits for the server's ``Retry-After`` (a minute without one); no answer,
    408, 502, 503 or 504 for its ``Retry-After`` or ``DASH_HTTP_OUTAGE_WAIT`` (jittered). Neither is an attempt.
    """
    if error.permanent:
        return None
    now = datetime.now(tz=UTC)
    if error.limited or error.status == 429:
        seconds = error.retry_after if error.retry_after is not None else DEFAULT_429_WAIT
        reason = (f"The requests-per-minute limit of {name} is used up" if error.limited
                  else f"Rate limited by {name} (HTTP 429)")
        return WaitUntil(reason, now + timedelta(seconds=max(1.0, seconds)), counted=False)
    if error.unanswered or error.status in OUTAGE_STATUSES:
        seconds = (error.retry_after if error.retry_after is not None
                   else float(getattr(settings, "HTTP_OUTAGE_WAIT", 30.0)) * random.uniform(1.0, 1.2))
        reason = f"{name} unavailable (HTTP {error.status})" if error.status else f"{name} not reachable"
        return WaitUntil(reason, now + timedelta(seconds=max(1.0, seconds)), counted=False)
    return None


@dataclass
class Answer:
    """One response: status, headers, the raw bytes and timing; ``json()`` parses or explains why not."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    elapsed_ms: float
    attempts: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int | None = None) -> str:
        data = self.content if limit is None else self.content[:limit]
        return data.decode("utf-8", errors="replace")

    def json(self) -> Any:
        if not self.content.strip():
            return None
        try:
            return json.loads(self.content)
        except ValueError:
            kind = self.headers.get("Content-Type", "no content type").split(";")[0]
            looks = "an HTML page" if self.content.lstrip()[:1] == b"<" else "text that is not JSON"
            raise CallError(f"{self.method} {self.url} answered {looks} ({kind}, HTTP {self.status}) instead of "
                            "JSON.", permanent=True, status=self.status) from None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError):
        return None


def without_params(url: str, names: set[str]) -> str:
    """``url`` without the query parameters ``names``."""
    parts = urlsplit(url)
    if not names or not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


def guard(url: str) -> None:
    """The URL check of every generic HTTP call: http(s) with a host (addresses: ``address_guard``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"Not sent: {parts.scheme or 'no'} scheme or no host in the URL (http or https only).")


def address_guard() -> AddressGuard:
    """Private, loopback and link-local addresses are refused at connect time unless allowed (the sandbox is)."""
    allowed = [*settings.OUTBOUND_ALLOWED_HOSTS, urlsplit(settings.SANDBOX_URL).hostname or ""]
    return AddressGuard.for_hosts(allow_private=settings.OUTBOUND_ALLOW_PRIVATE, allowed_hosts=allowed)


class RestApi:
    """Requests through one stored generic HTTP Client."""

    def __init__(self, client: HttpClient, *, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None, max_wait: float = MAX_RATE_WAIT) -> None:
        self.client = client
        self.config = RestClientConfig.model_validate(client.config or {})
        self.secrets = client.get_secrets()
        self.sleep = sleep or time.sleep
        self.clock = clock or time.time
        self.max_wait = max_wait
        self.tokens: RestTokenStore | None = None
        logger = DjangoRequestLogger(client) if client.log_requests else None
        self.transport = Transport(timeout=self.config.timeout, logger=logger, secret_values=self._secret_values,
                                   system=client.name, guard=guard, address_guard=address_guard(),
                                   max_body=settings.OUTBOUND_MAX_BYTES, counter=counter_for(client))
        self.transport.session.verify = self.config.verify_tls
        if self.config.auth in OAUTH:
            self.tokens = RestTokenStore(client, self.oauth(), sleep=self.sleep, clock=self.clock)

    def _secret_values(self) -> list[str]:
        values = [v for v in self.secrets.values() if v]
        return values + (self.tokens.current_secrets() if self.tokens is not None else [])

    def oauth(self) -> OAuthClient:
        return OAuthClient(self.config, client_secret=self.secrets.get("client_secret", ""),
                           redirect_uri=redirect_uri(), transport=self.transport, clock=self.clock)

    # -- where -------------------------------------------------------------------------------------------
    def url_for(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """``path`` under the Base URI (or an absolute URL on the same scheme, host and port) plus ``params``."""
        text = (path or "").strip()
        if text.startswith(("http://", "https://")):
            if not same_origin(self.config.base_url, text):
                raise CallError(f"Not sent: {urlsplit(text).netloc} is not the host of {self.client.name} "
                                f"({urlsplit(self.config.base_url).netloc}); links to other hosts are not followed.",
                                permanent=True)
            url = text
        else:
            url = self.config.base_url + ("/" + text.lstrip("/") if text else "")
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
            url += ("&" if "?" in url else "?") + query
        return url

    # -- limits --------------------------------------------------------------------------------------------
    def _wait_for_slot(self) -> None:
        limit = self.config.rate_limit
        if not limit:
            return
        from .models import RateWindow

        while True:
            wait = RateWindow.take(self.client, limit)
            if wait <= 0:
                return
            if wait > self.max_wait:
                raise CallError(f"{self.client.name}: the limit of {limit} requests per minute is used up; the next "
                                f"slot is in {wait:.0f} s.", permanent=False, retry_after=wait, limited=True)
            self.sleep(wait)

    # -- sending -------------------------------------------------------------------------------------------
    def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
             headers: Mapping[str, str] | None = None) -> Answer:
        """One request (plus one retry after a refused OAuth token); any status comes back as an ``Answer``."""
        auth_headers, auth_params = static_auth(self.config, self.secrets)
        # What pages, checkpoints and errors may show: never the credentials (a server may echo them in links).
        url = without_params(self.url_for(path, params), set(auth_params))
        wire_url = url + (("&" if "?" in url else "?") + urlencode(auth_params) if auth_params else "")
        all_headers = {"Accept": "application/json", **self.config.headers, **dict(headers or {}), **auth_headers}
        token = self._token()
        attempts = 0
        while True:
            attempts += 1
            if token:
                all_headers["Authorization"] = f"Bearer {token}"
            self._wait_for_slot()
            try:
                sent = self.transport.send(method, wire_url, json=json_body, headers=all_headers)
            except Refused as exc:
                raise CallError(exc.message, permanent=True) from None
            except Unreachable as exc:
                raise CallError(exc.message, permanent=False, unanswered=True) from None
            response = sent.response
            if response.status_code == 401 and token and self.tokens is not None and attempts == 1:
                token = self._token(refused=token)
                continue
            return Answer(method=method.upper(), url=url, status=response.status_code,
                          headers=dict(response.headers), content=response.content or b"",
                          elapsed_ms=sent.elapsed_ms, attempts=attempts)

    def _token(self, refused: str | None = None) -> str | None:
        if self.tokens is None:
            return None
        try:
            return self.tokens.after_unauthorized(refused) if refused else self.tokens.access_token()
        except GrantRefused as exc:
            raise CallError(exc.message, permanent=True, status=exc.status) from None
        except TokenFailure as exc:
            raise CallError(exc.message, permanent=exc.permanent, status=exc.status) from None

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
             headers: Mapping[str, str] | None = None, success: Callable[[int], bool] | None = None,
             retries: int = 0) -> Answer:
        """``send`` and insist on success: a failure raises ``CallError``; transient ones are retried
        ``retries`` times, after the server's ``Retry-After`` or a short backoff (never longer than ``max_wait``)."""
        is_success = success or (lambda status: 200 <= status < 300)
        for attempt in range(retries + 1):
            try:
                answer = self.send(method, path, params=params, json_body=json_body, headers=headers)
            except CallError as exc:
                if exc.permanent or attempt >= retries:
                    raise
                self.sleep(min(self.max_wait, 2.0 ** attempt))
                continue
            if is_success(answer.status):
                return answer
            error = self.error_for(answer)
            if error.permanent or attempt >= retries:
                raise error
            wait = error.retry_after if error.retry_after is not None else 2.0 ** attempt
            if wait > self.max_wait:
                raise error
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def error_for(self, answer: Answer) -> CallError:
        """What a non-successful answer means, with a short, redacted excerpt of its body."""
        status = answer.status
        body = redact_text(answer.text(300), self._secret_values()).strip()
        excerpt = f": {body}" if body and answer.content.lstrip()[:1] != b"<" else ""
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"), self.clock())
        where = f"{answer.method} {answer.url.split('?')[0]}"
        if status in (401, 403):
            return CallError(f"{where} was refused (HTTP {status}): check the client's credentials{excerpt}",
                             permanent=True, status=status, body=body)
        if 400 <= status < 500:
            return CallError(f"{where} answered HTTP {status}{excerpt}", permanent=status not in TRANSIENT_4XX,
                             status=status, retry_after=retry_after, body=body)
        if status >= 500:
            return CallError(f"{where} failed (HTTP {status}){excerpt}", permanent=False, status=status,
                             retry_after=retry_after, body=body)
        return CallError(f"{where} answered HTTP {status}, which is not a success here{excerpt}", permanent=True,
                         status=status, body=body)
