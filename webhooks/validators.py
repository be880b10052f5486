"""Who may post to a hook: shared secret header, HMAC signature, Basic auth, timestamp tolerance, IP allow-list.

Each check reads only the raw request (headers, body, remote address) and the hook's settings and
secrets, and raises ``Rejected`` with the status to answer. Secrets are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Rejected", "Validation", "hmac_signature", "validate_request"]


class Rejected(Exception):
    """The request is refused with ``status``; ``reason`` is counted (never echoed with secrets)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SecretHeader(BaseModel):
    header: str = "X-Webhook-Secret"


class HmacCheck(BaseModel):
    header: str = "X-Signature"
    algorithm: Literal["sha256", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""


class BasicAuth(BaseModel):
    username: str = ""


class TimestampCheck(BaseModel):
    header: str = "X-Timestamp"
    tolerance_seconds: int = 300


class Validation(BaseModel):
    """The non-secret validator settings of a hook (``Webhook.validation``); a missing key is a check not done."""

    model_config = ConfigDict(extra="ignore")

    secret_header: SecretHeader | None = None
    hmac: HmacCheck | None = None
    basic: BasicAuth | None = None
    timestamp: TimestampCheck | None = None
    ip_allowlist: list[str] = []

    @property
    def redacted_headers(self) -> set[str]:
        """Header names whose values are credentials (not stored with a delivery)."""
        names = {"authorization", "cookie", "proxy-authorization"}
        if self.secret_header:
            names.add(self.secret_header.header.lower())
        if self.hmac:
            names.add(self.hmac.header.lower())
        return names


def hmac_signature(check: HmacCheck, secret: str, body: bytes) -> str:
    """The signature header's value a sender computes for ``body`` (used by "Send test" and the benchmark)."""
    digest = hmac.new(secret.encode("utf-8"), body, getattr(hashlib, check.algorithm)).digest()
    text = digest.hex() if check.encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return check.prefix + text


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def _check_hmac(check: HmacCheck, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    sent = _header(headers, check.header).strip()
    if not sent:
        raise Rejected(401, f"missing signature header {check.header}")
    if check.prefix:
        if not sent.startswith(check.prefix):
            raise Rejected(401, f"signature without the prefix {check.prefix!r}")
        sent = sent[len(check.prefix):]
    try:
        given = bytes.fromhex(sent) if check.encoding == "hex" else base64.b64decode(sent, validate=True)
    except (ValueError, binascii.Error):
        raise Rejected(401, f"signature is not {check.encoding}") from None
    expected = hmac.new(secret.encode("utf-8"), body, getattr(hashlib, check.algorithm)).digest()
    if not hmac.compare_digest(given, expected):
        raise Rejected(401, "bad signature")


def _check_basic(check: BasicAuth, password: str, headers: Mapping[str, str]) -> None:
    value = _header(headers, "Authorization")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Rejected(401, "missing Basic authorization")
    try:
        user, _, given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error):
        raise Rejected(401, "malformed Basic authorization") from None
    ok_user = hmac.compare_digest(user.encode(), check.username.encode())
    ok_password = hmac.compare_digest(given.encode(), password.encode())
    if not (ok_user and ok_password):
        raise Rejected(401, "wrong Basic credentials")


def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise Rejected(401, "timestamp is neither epoch seconds nor ISO 8601") from None
    return value / 1000 if value > 1e11 else value  # milliseconds


def _check_timestamp(check: TimestampCheck, headers: Mapping[str, str], now: float) -> None:
    sent = _header(headers, check.header)
    if not sent:
        raise Rejected(401, f"missing timestamp header {check.header}")
    if abs(now - _parse_time(sent)) > check.tolerance_seconds:
        raise Rejected(401, f"timestamp outside the tolerance of {check.tolerance_seconds} s (replay?)")


def _check_ip(allowlist: list[str], remote_addr: str) -> None:
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        raise Rejected(403, "no usable client address") from None
    for entry in allowlist:
        try:
            if address in ipaddress.ip_network(entry.strip(), strict=False):
                return
        except ValueError:
            continue
    raise Rejected(403, f"address {remote_addr} is not on the allow-list")


def validate_request(validation: Validation, secrets: Mapping[str, str], headers: Mapping[str, str], body: bytes,
                     remote_addr: str, *, now: float | None = None) -> None:
    """Run every configured check; raises ``Rejected`` on the first failure."""
    if validation.ip_allowlist:
        _check_ip(validation.ip_allowlist, remote_addr)
    if validation.secret_header:
        expected = secrets.get("shared_secret", "")
        given = _header(headers, validation.secret_header.header)
        if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise Rejected(401, f"wrong or missing secret in {validation.secret_header.header}")
    if validation.basic:
        _check_basic(validation.basic, secrets.get("basic_password", ""), headers)
    if validation.timestamp:
        _check_timestamp(validation.timestamp, headers, time.time() if now is None else now)
    if validation.hmac:
        secret = secrets.get("hmac_secret", "")
        if not secret:
            raise Rejected(401, "no HMAC secret is set for this hook")
        _check_hmac(validation.hmac, secret, headers, body)
