"""Encryption at rest for secrets (tokens, client secrets) with Fernet keys from ``FIELD_ENCRYPTION_KEY``."""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

__all__ = ["EncryptedTextField", "decrypt", "encrypt"]

_PREFIX = "fernet:"


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def encrypt(plain: str) -> str:
    return _PREFIX + _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: FIELD_ENCRYPTION_KEY does not match the stored value") from exc


class EncryptedTextField(models.TextField):
    """A text column stored Fernet-encrypted; Python code only ever sees plain text.

    No length limit (Exact's tokens have grown before and truncated columns broke integrations).
    Encrypted values cannot be filtered on; look rows up by other columns.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
