"""The connector's one outbound HTTP wrapper: timeout, User-Agent, timing, redacted request logging, and
only to allowed addresses (``hosts.py``: Exact's region hosts and the allow-list, checked again at connect time).

Both the OAuth calls (token endpoint) and the REST calls go through ``Transport.send`` so that every
request Exact sees is timed, logged (when a logger is given) and scrubbed of tokens, codes and secrets.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from .errors import AddressRefused, Unavailable
from .hosts import GuardedAdapter, HostPolicy

__all__ = [
    "REDACTED",
    "SENSITIVE_KEYS",
    "RequestLogger",
    "RequestRecord",
    "Transport",
    "is_sensitive_key",
    "redact_body",
    "redact_headers",
    "redact_text",
    "redact_url",
]

REDACTED = "[redacted]"
# Keys whose values never leave the process in a log, page or error (compared case-insensitively).
SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "secret",
        "webhook_secret",
        "token",
        "id_token",
        "hashcode",
        "code_verifier",
    }
)
# OAuth's lower-case ``code``/``state`` are secrets; Exact's entity field ``Code`` (an account code) is not.
SENSITIVE_EXACT_KEYS = frozenset({"code", "state"})
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"})
MAX_LOGGED_BODY = 10_000
USER_AGENT = "exact-dash/0.1 (+https://github.com/exact-dash)"


@dataclass
class RequestRecord:
    """One request as it may be stored: already redacted."""

    kind: str  # "api" or "auth"
    method: str
    url: str
    status: int | None
    duration_ms: float
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    error: str = ""


class RequestLogger(Protocol):
    def log(self, record: RequestRecord) -> None: ...


def redact_text(text: str, values: Iterable[str]) -> str:
    """Replace every known secret value (token, secret) anywhere in ``text``."""
    for value in values:
        if value and len(value) >= 4 and value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_headers(headers: Mapping[str, str], values: Iterable[str] = ()) -> dict[str, str]:
    values = list(values)
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            out[name] = REDACTED
        else:
            out[name] = redact_text(str(value), values)
    return out


def is_sensitive_key(key: Any) -> bool:
    text = str(key)
    return text in SENSITIVE_EXACT_KEYS or text.lower() in SENSITIVE_KEYS


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if is_sensitive_key(k) else _redact_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_body(body: Any, values: Iterable[str] = ()) -> str:
    """A loggable text of a request/response body: JSON or form keys redacted, known secrets replaced."""
    values = list(values)
    if body is None or body == b"" or body == "":
        return ""
    if isinstance(body, Mapping):
        text = jsonlib.dumps(_redact_json(dict(body)), default=str)
    elif isinstance(body, list):
        text = jsonlib.dumps(_redact_json(body), default=str)
    else:
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        text = str(body)
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                text = jsonlib.dumps(_redact_json(jsonlib.loads(stripped)), default=str)
        elif "=" in stripped and "\n" not in stripped and " " not in stripped:
            pairs = parse_qsl(stripped, keep_blank_values=True)
            if pairs:
                text = urlencode([(k, REDACTED if is_sensitive_key(k) else v) for k, v in pairs])
    text = redact_text(text, values)
    if len(text) > MAX_LOGGED_BODY:
        text = text[:MAX_LOGGED_BODY] + f"... [{len(text) - MAX_LOGGED_BODY} more characters]"
    return text


def redact_url(url: str, values: Iterable[str] = ()) -> str:
    parts = urlsplit(url)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if is_sensitive_key(k) else v) for k, v in pairs], safe="$',()")
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return redact_text(url, values)


@dataclass
class Sent:
    """What ``Transport.send`` returns: the response and when it was sent/received (epoch seconds)."""

    response: requests.Response
    sent_at: float
    received_at: float
    elapsed_ms: float


class Transport:
    """Sends one HTTP request with a timeout, maps network failures to ``Unavailable``, logs redacted."""

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        logger: RequestLogger | None = None,
        secret_values: Callable[[], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session or requests.Session()
        for prefix in ("http://", "https://"):  # every connection checks the address it opens
            self.session.mount(prefix, GuardedAdapter())
        self.timeout = timeout
        self.logger = logger
        self.secret_values = secret_values or (lambda: ())
        self.clock = clock

    def send(
        self,
        method: str,
        url: str,
        *,
        kind: str = "api",
        params: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        log_secrets: Iterable[str] = (),
    ) -> Sent:
        all_headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
        request = requests.Request(method.upper(), url, params=params, data=data, json=json, headers=all_headers)
        prepared = self.session.prepare_request(request)
        sent_at = self.clock()
        started = time.monotonic()
        try:
            HostPolicy.current().check_url(prepared.url or url)
            response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except AddressRefused as exc:
            self._log(kind, prepared, None, started, f"refused: {exc.message}", log_secrets)
            raise
        except requests.Timeout as exc:
            self._log(kind, prepared, None, started, f"timeout after {self.timeout:g} s", log_secrets)
            raise Unavailable(f"Exact Online did not answer within {self.timeout:g} seconds.") from exc
        except requests.RequestException as exc:
            self._log(kind, prepared, None, started, f"{type(exc).__name__}: could not connect", log_secrets)
            host = urlsplit(url).netloc
            raise Unavailable(f"Exact Online could not be reached at {host} ({type(exc).__name__}).") from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        self._log(kind, prepared, response, started, "", log_secrets)
        return Sent(response=response, sent_at=sent_at, received_at=self.clock(), elapsed_ms=elapsed_ms)

    def _log(
        self,
        kind: str,
        prepared: requests.PreparedRequest,
        response: requests.Response | None,
        started: float,
        error: str,
        extra_secrets: Iterable[str],
    ) -> None:
        if self.logger is None:
            return
        values = [*self.secret_values(), *extra_secrets]
        record = RequestRecord(
            kind=kind,
            method=prepared.method or "",
            url=redact_url(prepared.url or "", values),
            status=response.status_code if response is not None else None,
            duration_ms=round((time.monotonic() - started) * 1000, 2),
            request_headers=redact_headers(prepared.headers, values),
            request_body=redact_body(prepared.body, values),
            response_headers=redact_headers(response.headers, values) if response is not None else {},
            response_body=redact_body(response.content, values) if response is not None else "",
            error=error,
        )
        self.logger.log(record)
