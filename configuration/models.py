"""Environment variables: named values that any configuration text refers to as ``${NAME}``."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from lib.crypto import EncryptedTextField
from lib.plugins import MASK

__all__ = ["NAME_PATTERN", "Variable"]

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"


class Variable(models.Model):
    """One environment variable. An encrypted one keeps its value in ``secret`` (encrypted at rest) and is
    write-only: shown once when saved, masked everywhere after (pages, exports, logs)."""

    name = models.CharField(
        max_length=100, unique=True,
        validators=[RegexValidator(rf"^{NAME_PATTERN}$", "Letters, digits and underscores (no digit first).")],
        help_text="Configuration fields refer to it as ${NAME}.")
    description = models.CharField(max_length=300, blank=True)
    encrypted = models.BooleanField(default=False, help_text="Write-only: masked everywhere once saved.")
    value = models.TextField(blank=True, help_text="The value of a plain (not encrypted) variable.")
    secret = EncryptedTextField(blank=True, default="", help_text="The value of an encrypted variable.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_value(self) -> str:
        """The value substituted for ``${NAME}`` (never rendered for an encrypted variable)."""
        return self.secret if self.encrypted else self.value

    @property
    def shown_value(self) -> str:
        return MASK if self.encrypted and self.secret else self.value

    def set_value(self, value: str) -> None:
        """Store ``value`` where its kind keeps it (and clear the other place)."""
        if self.encrypted:
            self.secret, self.value = value, ""
        else:
            self.value, self.secret = value, ""
