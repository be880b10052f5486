"""The one outbound HTTP wrapper every connector uses: timeout, User-Agent, timing, redacted request logging.

Both OAuth calls (token endpoints) and API calls go through ``Transport.send`` so that every request an
outside system sees is timed, logged (when a logger is given) and scrubbed of tokens, codes and secrets.
A network failure raises ``Unreachable`` (or the connector's own subclass of it, ``unreachable=``) with a
message naming the system (``system=``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json as jsonlib
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "REDACTED",
    "SECRET_SOURCES",
    "SENSITIVE_KEYS",
    "AddressGuard",
    "GuardedAdapter",
    "Refused",
    "RequestLogger",
    "RequestRecord",
    "Sent",
    "Transport",
    "Unreachable",
    "check_destination",
    "is_public",
    "is_sensitive_key",
    "never_sent",
    "redact_body",
    "redact_headers",
    "redact_text",
    "redact_url",
    "same_origin",
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


class Unreachable(Exception):
    """The request got no answer (timeout, refused or dropped connection); worth retrying later."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message)
        self.message = message


class Refused(Exception):
    """The request was not sent: its destination is not allowed (another host, a private address)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def same_origin(base: str, url: str) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base`` (links are only followed there)."""
    a, b = urlsplit(base), urlsplit(url)
    default = {"http": 80, "https": 443}
    return (a.scheme, (a.hostname or "").lower(), a.port or default.get(a.scheme)) == (
        b.scheme, (b.hostname or "").lower(), b.port or default.get(b.scheme))


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (not private, loopback, link-local, reserved, multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int | None = None) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class AddressGuard:
    """The one private-address check of outbound calls, made when the connection is opened.

    A host for which ``allowed(host, port)`` is true (an administrator's allow-list, or development) may be
    internal; any other name is resolved and refused unless every address is public, and the socket connects
    to the address that was checked, so a name that changes its answer between check and connect gains
    nothing. ``refused`` makes the connector's own error (a subclass of ``Refused``); ``setting`` names
    where an administrator allows a host.
    """

    allowed: Callable[[str, int | None], bool]
    setting: str = "DASH_OUTBOUND_ALLOWED_HOSTS"
    refused: Callable[[str], Exception] = Refused

    @classmethod
    def for_hosts(cls, *, allow_private: bool, allowed_hosts: Iterable[str] = (),
                  setting: str = "DASH_OUTBOUND_ALLOWED_HOSTS") -> AddressGuard:
        """A guard allowing every address (``allow_private``) or only the named hosts to be internal."""
        names = frozenset(_host_name(h) for h in allowed_hosts if h)
        return cls(allowed=lambda host, port: allow_private or _host_name(host) in names, setting=setting)

    def address(self, host: str, port: int | None, *,
                resolve: Callable[[str, int | None], list[str]] | None = None) -> str:
        """The address to connect to for ``host``: the host itself when allowed, else its checked address."""
        if self.allowed(host, port):
            return host
        name = _host_name(host)
        try:
            addresses = (resolve or _resolve)(name, port)
        except OSError:
            return host  # the connect fails with the HTTP library's own name-resolution error
        refused = [a for a in addresses if not is_public(a)]
        if not addresses or refused:
            shown = f" ({refused[0]})" if refused and refused[0] != name else ""
            raise self.refused(f"Not sent: {name} resolves to a private, loopback or link-local address{shown}; "
                               f"an administrator can allow it with {self.setting}.")
        return addresses[0]


def _host_name(value: str) -> str:
    return value.strip().strip("[]").rstrip(".").lower()


def check_destination(url: str, *, allow_private: bool, allowed_hosts: Iterable[str] = (),
                      resolve: Callable[[str, int | None], list[str]] | None = None) -> None:
    """Raise ``Refused`` unless ``url`` is http(s) and its host may be called (``AddressGuard`` rules).

    ``Transport(address_guard=...)`` makes the same check when it connects; this is for checking a URL
    before anything is prepared (a form, a test).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"Not sent: {parts.scheme or 'no'} scheme or no host in the URL (http or https only).")
    guard = AddressGuard.for_hosts(allow_private=allow_private, allowed_hosts=allowed_hosts)
    guard.address(parts.hostname, parts.port, resolve=resolve)


class _AddressCheck(HTTPConnection):
    """Put before urllib3's connection class: open the socket to the guard's checked address of the host."""

    address_guard: AddressGuard

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        self._dns_host = self.address_guard.address(name, self.port)  # connect to the address that was checked
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name  # TLS (SNI, certificate) and Host keep the name


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections check the resolved address with an ``AddressGuard``.

    A proxy from the environment (``HTTPS_PROXY``) resolves the name itself: the connector's URL check
    still applies to every URL (``Transport(guard=...)``), the address check then is the proxy's job.
    """

    def __init__(self, guard: AddressGuard) -> None:
        self.address_guard = guard
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard = {"address_guard": self.address_guard}
        plain = type("GuardedHTTPConnection", (_AddressCheck,), guard)
        tls = type("GuardedHTTPSConnection", (_AddressCheck, HTTPSConnection), guard)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
        }


@dataclass
class Sent:
    """What ``Transport.send`` returns: the response and when it was sent/received (epoch seconds)."""

    response: requests.Response
    sent_at: float
    received_at: float
    elapsed_ms: float


# Values redacted from every request log whatever the client (the encrypted environment variables): callables
# an app registers in ready(), asked only when a request is logged.
SECRET_SOURCES: list[Callable[[], Iterable[str]]] = []


def never_sent(error: BaseException | None) -> bool:
    """Whether a failed request never left this machine: no connection was made (refused, no route, no such name,
    connect timeout). A read timeout or a connection closed mid-answer may have reached the other side."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        return isinstance(getattr(error.args[0], "reason", None), urllib3_exceptions.ConnectTimeoutError)
    return False


class Transport:
    """Sends one HTTP request with a timeout, maps network failures to ``Unreachable``, logs redacted."""

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        logger: RequestLogger | None = None,
        secret_values: Callable[[], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
        system: str = "The other system",
        unreachable: Callable[[str], Exception] = Unreachable,
        guard: Callable[[str], None] | None = None,
        address_guard: AddressGuard | None = None,
        max_body: int | None = None,
        counter: Callable[[str, int | None], None] | None = None,
    ) -> None:
        self.guard = guard
        # Told (kind, scope) of every request that reached the other side (answered or timed out): the call counts.
        self.counter = counter
        self.max_body = max_body
        self.system = system
        self.unreachable = unreachable
        self.session = session or requests.Session()
        self.timeout = timeout
        self.logger = logger
        self.secret_values = secret_values or (lambda: ())
        self.clock = clock
        if address_guard is not None:  # every connection checks the address it opens
            for prefix in ("http://", "https://"):
                self.session.mount(prefix, GuardedAdapter(address_guard))

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
        scope: int | None = None,
    ) -> Sent:
        """Send one request; ``scope`` (e.g. a division) is what the call is counted under."""
        all_headers = {"User-Agent": USER_AGENT, **dict(headers or {})}
        request = requests.Request(method.upper(), url, params=params, data=data, json=json, headers=all_headers)
        prepared = self.session.prepare_request(request)
        sent_at = self.clock()
        started = time.monotonic()
        try:
            if self.guard is not None:
                self.guard(prepared.url or url)  # raises Refused (or the connector's refusal): nothing is sent
            response = self.session.send(prepared, timeout=self.timeout, allow_redirects=False,
                                         stream=self.max_body is not None)
            self._count(kind, scope)
            if self.max_body is not None:
                self._read_bounded(response)
        except Refused as exc:
            self._log(kind, prepared, None, started, f"refused: {exc.message}", log_secrets)
            raise
        except requests.Timeout as exc:
            if isinstance(exc, requests.ReadTimeout):
                self._count(kind, scope)  # it arrived; the answer did not
            self._log(kind, prepared, None, started, f"timeout after {self.timeout:g} s", log_secrets)
            raise self.unreachable(f"{self.system} did not answer within {self.timeout:g} seconds.") from exc
        except requests.RequestException as exc:
            self._log(kind, prepared, None, started, f"{type(exc).__name__}: could not connect", log_secrets)
            host = urlsplit(url).netloc
            raise self.unreachable(f"{self.system} could not be reached at {host} ({type(exc).__name__}).") from exc
        elapsed_ms = (time.monotonic() - started) * 1000
        self._log(kind, prepared, response, started, "", log_secrets)
        return Sent(response=response, sent_at=sent_at, received_at=self.clock(), elapsed_ms=elapsed_ms)

    def _count(self, kind: str, scope: int | None) -> None:
        if self.counter is not None:
            self.counter(kind, scope)

    def _read_bounded(self, response: requests.Response) -> None:
        """Read at most ``max_body`` bytes; a longer answer is cut off and refused (never held in memory)."""
        assert self.max_body is not None
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_body:
                response.close()
                raise Refused(f"{self.system} answered more than {self.max_body // 1_000_000 or 1} MB "
                              f"(HTTP {response.status_code}); the answer was not read.")
            chunks.append(chunk)
        response._content = b"".join(chunks)

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
        values = [*self.secret_values(), *extra_secrets, *(v for source in SECRET_SOURCES for v in source())]
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
