"""Where the connector may send a request: Exact Online's region hosts, plus an administrator's allow-list.

``DASH_EXACT_ALLOWED_HOSTS`` (setting ``EXACT_ALLOWED_HOSTS``) names the other hosts a Base URI may use: the
sandbox, a proxy. Outside production it holds the loopback names and the sandbox's host by default; in
production it is empty unless an administrator fills it. Only allow-listed hosts may be reached over plain
http or at a private, loopback or link-local address. Every other name is resolved when the connection is
opened (``GuardedAdapter``) and refused if any of its addresses is not public, and the socket connects to the
address that was checked, so a name that changes its answer between the check and the connect gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import AddressRefused

__all__ = ["EXACT_HOSTS", "REGIONS", "SETTING", "GuardedAdapter", "HostPolicy", "checked_address"]

# API.md §1: accounts are region-bound; the base URI serves auth, token and REST.
REGIONS = [
    ("https://start.exactonline.nl", "Netherlands — start.exactonline.nl"),
    ("https://start.exactonline.be", "Belgium — start.exactonline.be"),
    ("https://start.exactonline.de", "Germany — start.exactonline.de"),
    ("https://start.exactonline.fr", "France — start.exactonline.fr"),
    ("https://start.exactonline.es", "Spain — start.exactonline.es"),
    ("https://start.exactonline.co.uk", "United Kingdom — start.exactonline.co.uk"),
    ("https://start.exactonline.com", "USA / international — start.exactonline.com"),
]
EXACT_HOSTS = frozenset(str(urlsplit(url).hostname) for url, _label in REGIONS)
SETTING = "DASH_EXACT_ALLOWED_HOSTS"
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _host(value: str) -> str:
    return value.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class HostPolicy:
    """The allow-list as ``(host, port or None)`` pairs; ``None`` allows every port of the host."""

    allowed: frozenset[tuple[str, int | None]]

    @classmethod
    def parse(cls, entries: list[str] | tuple[str, ...]) -> HostPolicy:
        """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` entries (a URL's scheme and path are ignored)."""
        pairs: set[tuple[str, int | None]] = set()
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            parts = urlsplit(text if "//" in text else f"//{text}")
            try:
                port = parts.port
            except ValueError:
                raise ValueError(f"{SETTING}: {entry!r} is not a host or host:port") from None
            if not parts.hostname:
                raise ValueError(f"{SETTING}: {entry!r} is not a host or host:port")
            pairs.add((_host(parts.hostname), port))
        return cls(frozenset(pairs))

    @classmethod
    def current(cls) -> HostPolicy:
        """The policy of the running settings (the development default where Django is not configured)."""
        from django.conf import settings

        entries = getattr(settings, "EXACT_ALLOWED_HOSTS", DEVELOPMENT_HOSTS) if settings.configured \
            else DEVELOPMENT_HOSTS
        return cls.parse(list(entries))

    def allowlisted(self, host: str | None, port: int | None) -> bool:
        name = _host(host or "")
        return (name, None) in self.allowed or (name, port) in self.allowed

    def check_url(self, url: str) -> None:
        """Raise ``AddressRefused`` unless ``url`` is https on an Exact region host or on an allow-listed host."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = _host(parts.hostname or "")
        if parts.scheme not in ("http", "https") or not host or port == -1:
            raise AddressRefused(f"{url[:100]!r} is not an http(s) address with a host.")
        default = 443 if parts.scheme == "https" else 80
        if self.allowlisted(host, port if port is not None else default):
            return
        if host in EXACT_HOSTS and parts.scheme == "https" and port in (None, 443):
            return
        if host in EXACT_HOSTS:
            raise AddressRefused(f"Exact Online is reached over https:// on its standard port, not {parts.scheme}://"
                                 f"{parts.netloc}.")
        raise AddressRefused(f"{host} is not an Exact Online region host and not on the allow-list: an "
                             f"administrator can add it to {SETTING} (for example the sandbox or a proxy).")

    def plain_http_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        try:
            port = parts.port or 80
        except ValueError:
            return False
        return parts.scheme == "http" and self.allowlisted(parts.hostname, port)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def checked_address(host: str, port: int | None) -> str:
    """The address to connect to for ``host``: the host itself when allow-listed, else its resolved address,
    which must be public (``AddressRefused`` for private, loopback, link-local and reserved addresses)."""
    if HostPolicy.current().allowlisted(host, port):
        return host
    try:
        infos = socket.getaddrinfo(_host(host), port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return host  # the connect fails with urllib3's own name-resolution error
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(_is_public(address) for address in addresses):
        raise AddressRefused(f"{_host(host)} resolves to a private, loopback or link-local address: refused (only "
                             f"hosts on the allow-list, {SETTING}, may use such addresses).")
    return addresses[0]


class _AddressCheck:
    """Mixed into urllib3's connections: open the socket to the checked address of the host."""

    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        self._dns_host = checked_address(name, self.port)  # connect to the address that was checked
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = name  # TLS (SNI, certificate) and Host keep the name


class _GuardedConnection(_AddressCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_AddressCheck, HTTPSConnection):
    pass


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections check the resolved address (see ``checked_address``).

    A proxy from the environment (``HTTPS_PROXY``) resolves the name itself: the host policy still applies to
    every URL (``Transport.send``), the address check then is the proxy's job.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}
