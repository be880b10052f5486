"""Where the connector may send a request: Exact Online's region hosts, plus an administrator's allow-list.

``DASH_EXACT_ALLOWED_HOSTS`` (setting ``EXACT_ALLOWED_HOSTS``) names the other hosts a Base URI may use: the
sandbox, a proxy. Outside production it holds the loopback names and the sandbox's host by default; in
production it is empty unless an administrator fills it. Only allow-listed hosts may be reached over plain
http or at a private, loopback or link-local address: every other name is resolved when the connection is
opened and refused if any of its addresses is not public (``address_guard``: the platform's one check,
``lib.http.AddressGuard``, with this allow-list).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lib.http import AddressGuard

from .errors import AddressRefused

__all__ = ["EXACT_HOSTS", "REGIONS", "SETTING", "HostPolicy", "address_guard"]

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


def address_guard() -> AddressGuard:
    """The platform's connect-time private-address check (``lib.http.AddressGuard``) with Exact's allow-list."""
    return AddressGuard(allowed=lambda host, port: HostPolicy.current().allowlisted(host, port), setting=SETTING,
                        refused=AddressRefused)
