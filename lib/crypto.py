"""Encryption at rest for secrets (tokens, client secrets) with Fernet keys from ``FIELD_ENCRYPTION_KEY``.

Rotating a key: prepend a new key (``NEW,OLD``: the first encrypts, all decrypt), run
``manage.py reencrypt_secrets`` (``reencrypt_all`` below), then drop the old key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Cast

__all__ = ["EncryptedTextField", "ReencryptReport", "SecretsMixin", "decrypt", "encrypt", "encrypted_fields",
           "reencrypt_all"]

_PREFIX = "fernet:"


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def encrypt(plain: str) -> str:
    return _PREFIX + _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise ValueError("value is not encrypted")
    return _decrypt(settings.FIELD_ENCRYPTION_KEY, stored)


@lru_cache(maxsize=512)
def _decrypt(keys: str, stored: str) -> str:
    """Decrypting is a MAC check and AES per load of a row: the hot paths (a webhook's validators on every
    delivery, a client's token on every call) load the same ciphertext again and again. Keyed on the keys
    too, so a rotation is never served from an old key's answer; a failure is not cached."""
    try:
        return _fernet(keys).decrypt(stored[len(_PREFIX) :].encode()).decode()
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


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every ``EncryptedTextField`` of every installed model (whichever app declares it)."""
    return [(model, f) for model in apps.get_models() for f in model._meta.concrete_fields
            if isinstance(f, EncryptedTextField)]


@dataclass
class ReencryptReport:
    """What ``reencrypt_all`` did, per ``app_label.Model.field``; ``unreadable`` lists ``label pk=..`` rows."""

    reencrypted: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())


def reencrypt_all(*, dry_run: bool = False) -> ReencryptReport:
    """Re-encrypt every stored secret under the first configured key, so older keys can be removed.

    All or nothing: when a value cannot be decrypted with any configured key, nothing is written and the
    report names the rows (a key would otherwise be retired while data still needs it). Values stored
    unencrypted are encrypted. Plain text is never returned or logged.
    """
    fernet = _fernet(settings.FIELD_ENCRYPTION_KEY)
    report = ReencryptReport()
    planned: list[tuple[type[models.Model], str, Any, str]] = []
    for model, enc_field in encrypted_fields():
        label = f"{model._meta.label}.{enc_field.name}"
        report.reencrypted[label] = 0
        # Cast to a plain text column: the raw stored value, without decrypting it on the way out.
        rows = (model._default_manager.exclude(**{enc_field.attname: ""}).exclude(**{enc_field.attname: None})
                .annotate(_raw=Cast(enc_field.attname, models.TextField())).values_list("pk", "_raw"))
        for pk, raw in rows.iterator():
            try:
                if raw.startswith(_PREFIX):
                    token = fernet.rotate(raw[len(_PREFIX) :].encode()).decode()
                else:
                    token = fernet.encrypt(raw.encode()).decode()
            except InvalidToken:
                report.unreadable.append(f"{label} pk={pk}")
                continue
            planned.append((model, enc_field.attname, pk, _PREFIX + token))
            report.reencrypted[label] += 1
    if report.unreadable or dry_run:
        return report
    with transaction.atomic():
        for model, attname, pk, stored in planned:
            # A Value expression is written as is (no second encryption through the field).
            model._default_manager.filter(pk=pk).update(**{attname: models.Value(stored, models.TextField())})
    return report


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

    def set_secrets(self, values: Mapping[str, str], *, keep: tuple[str, ...] | None = None) -> None:
        """Merge ``values`` into the stored secrets; an empty value keeps what was stored.

        ``keep`` (when given) drops stored secrets whose name is not in it (a plugin's kind changed).
        """
        current = self.get_secrets()
        if keep is not None:
            current = {k: v for k, v in current.items() if k in keep}
        current.update({k: v for k, v in values.items() if v})
        self.secrets = json.dumps(current)
