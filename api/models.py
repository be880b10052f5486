"""Personal API tokens: a user's key to the REST API, acting with that user's role.

The token itself is shown once, when it is made; only its SHA-256 digest is stored (a random 256-bit
token needs no slow hash: there is nothing to guess from the digest). Every token has an expiry; a revoked,
expired or deactivated user's token authenticates nobody.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["ApiToken"]

TOKEN_PREFIX = "xd_"
# How often last_used_at is written at most: a busy script should not write a row per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        """Tokens that authenticate now: not revoked, not expired, of an active user."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True)

    def authenticate(self, token: str) -> ApiToken | None:
        """The usable token ``token`` is, or None; marks it used (at most once a minute)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        found = self.usable().select_related("user").filter(digest=digest_of(token)).first()
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        return found


class ApiToken(models.Model):
    """One personal API token of a user (who it acts as), stored as a digest, with an expiry."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “CI deploy”.")
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        # Also the rate limiter's key: one budget per token, never the token itself.
        return f"API token {self.pk} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: Any, *, name: str, days: int) -> tuple[ApiToken, str]:
        """A new token for ``user``; returns the row and the token text (shown once, never stored)."""
        text = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(user=user, name=name, prefix=text[:10], digest=digest_of(text),
                                 expires_at=timezone.now() + timedelta(days=days))
        return row, text

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def revoke(self) -> bool:
        """Stop the token at once; False when it was revoked already."""
        now = timezone.now()
        moved = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        if moved:
            self.revoked_at = now
        return bool(moved)
