"""The Exact Online REST client: usable from a plain Python shell, a worker or a view.

Give it a grant store (where valid tokens come from) and optionally a quota store and a request logger::

    api = ExactApi(base_url="https://start.exactonline.nl", grant_store=store)
    me = api.me(); accounts = api.get("crm/Accounts", division=me["CurrentDivision"], params={"$select": "ID"})

Every call: a quota slot reserved for (client, division) before sending (``QuotaWait`` beyond ``max_wait``:
workers never sleep on quota, they defer their work to the reset), a fresh token (single-flight refresh), the
request with a timeout, the ``X-RateLimit-*`` headers recorded, then: 401 -> one refresh-and-retry per
distinct token (a 401 on a freshly refreshed token is transient: backoff; only a refused grant is final);
429 -> the division is parked until the reset Exact states (``QuotaWait`` beyond ``max_wait``); transient
failures -> retried with backoff for GETs only; any other 4xx -> a typed error at once (Exact blocks keys that
collect errors, FIELD-NOTES B5). The error-budget guard (``error_budget.py``) counts those errors per endpoint
and division and refuses to send (``CircuitOpen``) once an endpoint keeps failing.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from lib.http import never_sent

from .error_budget import ErrorBudgetGuard, endpoint_of
from .errors import (
    BadResponse,
    ExactError,
    Forbidden,
    NotFound,
    QuotaWait,
    Unauthorized,
    Unavailable,
    ValidationError,
)
from .oauth import GrantStore
from .quota import QuotaStore, wait_after_429
from .transport import RequestLogger, Transport

__all__ = ["ApiPage", "ApiResponse", "ExactApi", "error_message", "is_validation_text", "same_origin"]

log = logging.getLogger(__name__)

# A 401 on a token fresh from a refresh is retried this often per request after a backoff; more would spend
# Exact's error budget (401s count, FIELD-NOTES B5) on a refusal that is not going away within the request.
MAX_401_BLIPS = 1
_DEFAULT_PORTS = {"http": 80, "https": 443}

# A 500 whose text reads like a validation message (English or Dutch) is the caller's fault, not Exact's
# (FIELD-NOTES H2).
_VALIDATION_500 = re.compile(
    r"ongeldig|verplicht|bestaat al|niet toegestaan|invalid|mandatory|required|already exists|already used|"
    r"not allowed|unknown:|is not valid|must be",
    re.IGNORECASE,
)


@dataclass
class ApiResponse:
    status: int
    headers: Mapping[str, str]
    body: Any
    text: str
    elapsed_ms: float
    url: str


@dataclass
class ApiPage:
    """One page of an OData list as Exact sent it (the platform's ``connections.subscribers.Page`` is built from it)."""

    results: list[dict[str, Any]]
    next_url: str | None
    response: ApiResponse = field(repr=False)


def error_message(body: Any, text: str) -> str:
    """Exact's error envelope ``{"error": {"message": {"value": ...}}}`` as plain text."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message")
            if isinstance(message, dict) and message.get("value"):
                return str(message["value"])
            if isinstance(message, str) and message:
                return message
            if err.get("code"):
                return str(err["code"])
        elif isinstance(err, str):
            return f"{err}: {body.get('error_description', '')}".rstrip(": ")
    # Anything else is not echoed (a page, the auth log): it may be an internal answer the caller must not read.
    stripped = (text or "").strip()
    if stripped.startswith("<"):
        return "an HTML page instead of JSON"
    if not stripped:
        return ""
    kind = "JSON without Exact's error message" if body is not None else "text that is not JSON"
    return f"{kind} ({len(stripped):,} characters, not shown)"


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` has ``base_url``'s scheme, host and port (default ports made explicit)."""
    a, b = urlsplit(url), urlsplit(base_url)
    try:
        ports = (a.port or _DEFAULT_PORTS.get(a.scheme), b.port or _DEFAULT_PORTS.get(b.scheme))
    except ValueError:  # a port that is not a number
        return False
    return bool(a.hostname) and (a.scheme.lower(), (a.hostname or "").lower(), ports[0]) == (
        b.scheme.lower(), (b.hostname or "").lower(), ports[1])


def is_validation_text(message: str) -> bool:
    return bool(_VALIDATION_500.search(message or ""))


class ExactApi:
    """One Exact Online app registration on one region, for one grant."""

    def __init__(
        self,
        *,
        base_url: str,
        grant_store: GrantStore,
        quota_store: QuotaStore | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        request_logger: RequestLogger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait: float = 300.0,
        max_attempts: int = 4,
        backoff: float = 10.0,
        secret_values: Callable[[], list[str]] | None = None,
        transport: Transport | None = None,
        error_budget: ErrorBudgetGuard | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.grant_store = grant_store
        self.quota_store = quota_store
        self.sleep = sleep
        self.clock = clock
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.transport = transport or Transport(
            session=session, timeout=timeout, logger=request_logger, secret_values=secret_values, clock=clock
        )
        self.calls = 0
        # The error-budget guard (FIELD-NOTES B5): in memory unless the caller shares one (api_for does).
        self.error_budget = error_budget if error_budget is not None else ErrorBudgetGuard(clock=clock)

    # --- URLs ---------------------------------------------------------------------------------
    def url_for(self, path: str, division: int | None) -> str:
        """Absolute URLs (``__next`` links) verbatim, only on the Base URI's own scheme, host and port (the
        bearer token goes nowhere else); otherwise ``/api/v1/[beta/][{division}/]path``."""
        if "://" in path[:12]:
            if not same_origin(path, self.base_url):
                host = urlsplit(path).netloc[:100] or "?"
                raise BadResponse(f"Exact Online's next-page link points at another address ({host}) than the "
                                  "Base URI: not followed, and the access token was not sent.", permanent=True)
            return path
        if path.startswith("/api/"):
            if "{division}" in path:
                if division is None:
                    raise ValueError(f"{path} needs a division")
                path = path.replace("{division}", str(int(division)))
            return self.base_url + path
        path = path.lstrip("/")
        prefix = ""
        if path.startswith("beta/"):
            prefix, path = "beta/", path[len("beta/") :]
        if division is None:
            return f"{self.base_url}/api/v1/{prefix}{path}"
        return f"{self.base_url}/api/v1/{prefix}{int(division)}/{path}"

    # --- the one request path -------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        division: int | None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_transient: bool = True,
    ) -> ApiResponse:
        """One call through the error-budget guard: refused with ``CircuitOpen`` before anything is sent."""
        endpoint = endpoint_of(path)
        seen = self.error_budget.check(endpoint, division)
        try:
            response = self._request(method, path, division=division, params=params, json=json, headers=headers,
                                     retry_transient=retry_transient)
        except ExactError as error:
            self.error_budget.record(endpoint, division, error, seen)
            raise
        self.error_budget.record(endpoint, division, None, seen)
        return response

    def _request(
        self,
        method: str,
        path: str,
        *,
        division: int | None,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        retry_transient: bool,
    ) -> ApiResponse:
        method = method.upper()
        url = self.url_for(path, division)
        if "://" in path[:12]:
            params = None  # a __next link already carries the whole query
        send_headers = {"Accept": "application/json", **dict(headers or {})}
        if method == "POST":
            send_headers.setdefault("Prefer", "return=representation")
        if json is not None:
            send_headers.setdefault("Content-Type", "application/json")
        may_retry = retry_transient and method == "GET"
        # Tokens a 401 already led to a refresh for, and the tokens those refreshes gave: one refresh per
        # distinct refused token; a refused token that is fresh from a refresh is a blip, not a lost grant.
        refreshed: set[str] = set()
        blips = 0  # 401s on a token fresh from a refresh, retried after a backoff (each costs error budget)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            waited += self._wait_for_slot(division, waited)
            token = self.grant_store.access_token()
            try:
                response = self._send(method, url, token, params, json, send_headers, division=division)
            except Unavailable as exc:
                if self.quota_store is not None and never_sent(exc.__cause__):
                    self.quota_store.release(division)  # Exact counted nothing: an outage does not use up the day
                if may_retry and attempt < self.max_attempts:
                    self._backoff(attempt)
                    continue
                raise
            status = response.status
            if self.quota_store is not None:
                self.quota_store.record(division, response.headers, status)
            if status == 401:
                if token not in refreshed:
                    refreshed.add(token)
                    try:  # NeedsReconnect (Exact refused the grant itself) ends the request here
                        refreshed.add(self.grant_store.after_unauthorized(token))
                        continue
                    except ExactError as exc:
                        if exc.permanent:
                            raise
                # A 401 right after a successful refresh (or a refresh Exact would not do yet): transient.
                # A 401 means Exact did not act on the request, so even a POST may be sent again.
                if blips < MAX_401_BLIPS and attempt < self.max_attempts:
                    blips += 1
                    log.info("401 from Exact Online on a freshly refreshed token: retrying after a pause")
                    self._backoff(attempt)
                    continue
                raise self._unauthorized(response)
            if status == 429:
                # Someone else spent the division's quota (another installation of the app): nobody here
                # sends to it before the reset Exact states.
                wait = wait_after_429(response.headers, self.clock())
                until = self.clock() + wait
                if self.quota_store is not None:
                    self.quota_store.park(division, until)
                if waited + wait > self.max_wait:
                    raise QuotaWait(
                        f"Exact Online answered 429 (rate limit) for division {division}; the next slot is in "
                        f"{wait:.0f} s.", until=until, division=division, which="parked", body=response.text)
                log.info("429 from Exact Online for division %s: waiting %.1f s", division, wait)
                self.sleep(wait)
                waited += wait
                continue
            error = self._error_for(response, method)
            if error is None:
                return response
            if not error.permanent and may_retry and attempt < self.max_attempts:
                self._backoff(attempt)
                continue
            raise error

    def _wait_for_slot(self, division: int | None, waited: float) -> float:
        """Reserve this call in the division's quota before sending it. Beyond ``max_wait`` (0 in workers:
        ``client_type.api_for``) nothing sleeps: ``QuotaWait`` says until when, and the caller defers its work."""
        if self.quota_store is None:
            return 0.0
        total = 0.0
        while True:
            found = self.quota_store.reserve(division)
            if found.ok:
                return total
            wait = max(0.05, found.until - self.clock())
            if waited + total + wait > self.max_wait:
                raise QuotaWait(f"Exact Online's rate limit ({found.which}) for division {division} has no call "
                                f"left for {wait:.0f} s.", until=found.until, division=division, which=found.which)
            self.sleep(min(wait, 5.0))
            total += min(wait, 5.0)

    def _backoff(self, attempt: int) -> None:
        self.sleep(self.backoff * (2 ** (attempt - 1)))

    def _send(
        self, method: str, url: str, token: str, params: Any, json: Any, headers: Mapping[str, str], *,
        division: int | None = None,
    ) -> ApiResponse:
        self.calls += 1
        sent = self.transport.send(
            method, url, kind="api", params=params, json=json,
            headers={**headers, "Authorization": f"Bearer {token}"}, log_secrets=[token], scope=division,
        )
        r = sent.response
        text = r.text if r.content else ""
        body: Any = None
        if text.strip():
            try:
                body = jsonlib.loads(text)
            except ValueError:
                body = None
        return ApiResponse(status=r.status_code, headers=dict(r.headers), body=body, text=text,
                           elapsed_ms=sent.elapsed_ms, url=r.url or url)

    def _unauthorized(self, response: ApiResponse) -> Unauthorized:
        reason = next((v for k, v in response.headers.items() if k.lower() == "reason"), None)
        return Unauthorized("Exact Online answered HTTP 401 again after the access token was refreshed; the "
                            "grant itself was not refused, so this is retried later.", status=401, reason=reason,
                            body=response.text)

    def _error_for(self, response: ApiResponse, method: str) -> ExactError | None:
        status = response.status
        reason = next((v for k, v in response.headers.items() if k.lower() == "reason"), None)
        message = error_message(response.body, response.text)
        if reason and reason not in message:
            message = f"{message} ({reason})" if message else reason
        if 200 <= status < 300:
            if response.text.strip() and response.body is None:
                return BadResponse("Exact Online answered with something other than JSON (maintenance page?).",
                                   status=status, body=response.text)
            return None
        detail = f"Exact Online answered HTTP {status}" + (f": {message}" if message else "")
        if status == 403:
            return Forbidden(detail, status=status, reason=reason, body=response.text)
        if status == 404:
            return NotFound(detail, status=status, reason=reason, body=response.text)
        if status in (408, 599) or status in (502, 503, 504):
            return Unavailable(detail, status=status, reason=reason, body=response.text)
        if status >= 500:
            if response.body is not None and is_validation_text(message):
                return ValidationError(detail, status=status, reason=reason, body=response.text)
            return Unavailable(detail, status=status, reason=reason, body=response.text)
        if response.body is None and response.text.strip().startswith("<"):
            return BadResponse(detail, status=status, body=response.text)
        return ValidationError(detail, status=status, reason=reason, body=response.text)

    # --- conveniences ---------------------------------------------------------------------------
    def get(self, path: str, *, division: int | None, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, division=division, params=params).body

    def iter_pages(
        self, path: str, *, division: int | None, params: Mapping[str, str] | None = None, max_pages: int = 100_000
    ) -> Iterator[ApiPage]:
        url: str | None = path
        query = params
        for _ in range(max_pages):
            assert url is not None
            response = self.request("GET", url, division=division, params=query)
            d = response.body.get("d") if isinstance(response.body, dict) else None
            if isinstance(d, dict) and "results" in d:
                results = list(d.get("results") or [])
                next_url = d.get("__next") or None
            elif isinstance(d, list):
                results, next_url = d, None
            elif isinstance(d, dict):
                results, next_url = [d], None
            else:
                raise BadResponse("Exact Online's answer has no 'd' envelope.", status=response.status)
            yield ApiPage(results=results, next_url=next_url, response=response)
            if not next_url:
                return
            url, query = next_url, None
        raise ExactError(f"Stopped after {max_pages} pages of {path}: the __next chain did not end.")

    def me(self) -> dict[str, Any]:
        body = self.get("current/Me", division=None)
        results = body.get("d", {}).get("results") if isinstance(body, dict) else None
        if isinstance(body, dict) and isinstance(body.get("d"), dict) and results is None:
            results = [body["d"]]
        if not results or not isinstance(results[0], dict):
            raise BadResponse("Exact Online's current/Me answer has no user in it.")
        return dict(results[0])

    def divisions(self, division: int | None = None) -> list[dict[str, Any]]:
        """``system/Divisions`` (it needs a division in the path: the current one by default)."""
        if division is None:
            division = int(self.me()["CurrentDivision"])
        rows: list[dict[str, Any]] = []
        for page in self.iter_pages("system/Divisions", division=division,
                                    params={"$select": "Code,Description,HID,Customer,CustomerName,Status"}):
            rows.extend(page.results)
        return rows
