"""Writing the audit trail: ``record()`` for events, ``entry_for_version()`` for configuration changes.

Anything that changes configuration outside the tracked models' ``save()`` (an API, a bulk action, a sign-in)
calls ``record(action, obj=..., request=..., changes=..., message=...)``. Saving a tracked model needs nothing:
django-simple-history keeps the version, and ``audit.signals`` turns it into an entry with the diff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from simple_history.models import HistoricalRecords

from .models import AuditEntry

__all__ = ["API_REASON", "SECRET_CHANGED", "client_ip", "current_request", "diff_versions", "entry_for_version",
           "record", "secret_marks", "tracked_fields", "version_repr"]

SECRET_CHANGED = "changed"
# The change reason the REST API gives the objects it saves or deletes: their entries say "through the API".
API_REASON = "api"
# Fields that change on every save and say nothing about the configuration.
IGNORED_FIELDS = {"updated_at", "created_at", "created_by"}
HISTORY_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user",
                  "history_ip", "secret_marks", "chain"}
_local = threading.local()


def current_request() -> HttpRequest | None:
    """The request being answered in this thread (set by simple-history's ``HistoryRequestMiddleware``)."""
    return getattr(HistoricalRecords.context, "request", None) or getattr(_local, "request", None)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind a trusted proxy (``DASH_BEHIND_PROXY``) the address
    the proxy appended last to ``X-Forwarded-For`` (entries before it are the client's own say)."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR") or None
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        address = forwarded[-1] if forwarded else address
    return address


def _actor(request: HttpRequest | None, user: Any) -> tuple[Any, str]:
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return user, (user.get_username() if user is not None else "")


def record(action: str, *, obj: models.Model | None = None, request: HttpRequest | None = None, user: Any = None,
           username: str = "", changes: dict[str, Any] | None = None, message: str = "",
           object_type: str = "", object_id: str = "", object_repr: str = "",
           history_id: int | None = None, at: datetime | None = None) -> AuditEntry:
    """Write one audit entry. ``request`` (default: the current one) gives the user and IP address.

    Never pass a secret in ``changes`` or ``message``: write ``SECRET_CHANGED`` for a secret that changed.
    """
    request = request or current_request()
    actor, name = _actor(request, user)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    fields: dict[str, Any] = {}
    if at is not None:
        fields["at"] = at
    return AuditEntry.objects.create(
        user=actor, username=(username or name)[:150], ip=client_ip(request), action=action,
        object_type=object_type, object_id=object_id, object_repr=object_repr[:300], changes=changes or {},
        message=message[:500], history_id=history_id, **fields,
    )


# --- versions -> entries ----------------------------------------------------------------------------

def _fingerprint(value: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, b"audit-secret:" + value.encode(), hashlib.sha256).hexdigest()[:24]


def secret_marks(instance: models.Model) -> dict[str, str]:
    """A keyed fingerprint of each secret of ``instance``: enough to tell that one changed, never what it is."""
    marks: dict[str, str] = {}
    get_secrets = getattr(instance, "get_secrets", None)
    if callable(get_secrets):
        for name, value in sorted(get_secrets().items()):
            if value:
                marks[f"secret:{name}"] = _fingerprint(str(value))
    password = getattr(instance, "password", None)
    if isinstance(password, str) and password:
        marks["password"] = _fingerprint(password)
    return marks


def _plain(value: Any) -> Any:
    """A JSON-friendly value for the diff."""
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return str(value)


def tracked_fields(version: Any) -> list[models.Field[Any, Any]]:
    """The model's own fields kept in its history (not the history's bookkeeping), in model order."""
    return [field for field in version.instance_type._meta.fields
            if field.attname in {f.attname for f in version._meta.fields}
            and field.name not in HISTORY_FIELDS]


def _display(field: models.Field[Any, Any], version: Any) -> Any:
    value = getattr(version, field.attname)
    if field.is_relation and value is not None and field.related_model is not None:
        related = field.related_model._default_manager.filter(pk=value).first()
        return f"{related} (#{value})" if related is not None else f"#{value}"
    return _plain(value)


def diff_versions(old: Any, new: Any) -> dict[str, Any]:
    """Field-level changes from version ``old`` (None: nothing before) to ``new``; secrets as ``"changed"``."""
    changes: dict[str, Any] = {}
    for field in tracked_fields(new):
        if field.name in IGNORED_FIELDS or field.primary_key:
            continue
        before = getattr(old, field.attname) if old is not None else None
        after = getattr(new, field.attname)
        if old is None and after in (None, "", [], {}):
            continue
        if json.dumps(_plain(before), sort_keys=True, default=str) != json.dumps(_plain(after), sort_keys=True,
                                                                                 default=str):
            changes[field.name] = [_display(field, old) if old is not None else None, _display(field, new)]
    old_marks: dict[str, str] = (old.secret_marks if old is not None else {}) or {}
    new_marks: dict[str, str] = new.secret_marks or {}
    for name in sorted(set(old_marks) | set(new_marks)):
        if old_marks.get(name) != new_marks.get(name):
            changes[name] = SECRET_CHANGED
    if (old.chain if old is not None else []) != new.chain and (old is not None or new.chain):
        changes["transformers"] = [_chain_names(old.chain if old is not None else []), _chain_names(new.chain)]
    return changes


def _chain_names(ids: list[int]) -> list[str]:
    from connections.models import Transformer

    names = dict(Transformer.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [f"{names.get(pk, '?')} (#{pk})" for pk in ids]


ACTION_OF_TYPE = {"+": AuditEntry.Action.CREATE, "~": AuditEntry.Action.UPDATE, "-": AuditEntry.Action.DELETE}


def entry_for_version(version: Any, *, rewrite: bool = False) -> AuditEntry | None:
    """Write (or rewrite) the audit entry of one historical record; None when nothing that matters changed
    (the version is then deleted: a save that only touched bookkeeping is no version)."""
    previous = version.prev_record
    changes = diff_versions(previous, version) if version.history_type != "-" else {}
    label = version.instance_type._meta.label_lower
    existing = AuditEntry.objects.filter(history_id=version.history_id, object_type=label).first() if rewrite else None
    if version.history_type == "~" and not changes:
        if existing is not None:
            existing.delete()
        version.delete()
        return None
    action = ACTION_OF_TYPE.get(version.history_type, AuditEntry.Action.UPDATE)
    if version.history_change_reason == "restore":
        action = AuditEntry.Action.RESTORE
    if existing is not None:
        existing.changes = changes
        existing.save(update_fields=["changes"])
        return existing
    request = current_request()
    user = version.history_user if version.history_user_id else None
    entry = record(action, request=request, user=user, changes=changes,
                   message="through the API" if version.history_change_reason == API_REASON else "",
                   object_type=version.instance_type._meta.label_lower, object_id=str(version.id),
                   object_repr=version_repr(version),
                   history_id=version.history_id, at=version.history_date)
    return entry


def version_repr(version: Any) -> str:
    """What a historical record is called (its name), without building the model instance."""
    for name in ("name", "username"):
        if hasattr(version, name):
            return str(getattr(version, name))
    return f"#{version.id}"
