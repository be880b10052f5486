"""Encryption at rest for secrets (tokens, client secrets) with Fernet keys from ``FIELD_ENCRYPTION_KEY``."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

__all__ = ["EncryptedTextField", "SecretsMixin", "decrypt", "encrypt"]

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


class SecretsMixin:
    """For models with a ``secrets`` EncryptedTextField holding a JSON object of named secrets (never rendered)."""

    secrets: str

    def get_secrets(self) -> dict[str, str]:
        if not self.secrets:
            return {}
        value = json.loads(self.secrets)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def get_secret(self, name: str) -> str:
        return self.get_secrets().get(name, "")

    def set_secrets(self, values: dict[str, str]) -> None:
        """Merge ``values`` into the stored secrets; an empty value keeps what was stored."""
        current = self.get_secrets()
        current.update({k: v for k, v in values.items() if v})
        self.secrets = json.dumps(current)
