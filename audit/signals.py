"""Receivers that feed the audit trail: versions of tracked models, sign-ins and sign-outs, two-factor changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from simple_history.signals import post_create_historical_record, pre_create_historical_record

from .models import AuditEntry
from .recording import client_ip, current_request, entry_for_version, record, secret_marks


@receiver(pre_create_historical_record)
def _version_extras(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """Fill the columns simple-history does not know: the client's address, secret fingerprints, a route's chain."""
    history_instance.history_ip = client_ip(current_request())
    history_instance.secret_marks = secret_marks(instance)
    links = getattr(instance, "links", None)
    if links is not None and instance._meta.label_lower == "connections.route" and instance.pk:
        history_instance.chain = list(links.order_by("position", "pk").values_list("transformer_id", flat=True))


@receiver(post_create_historical_record)
def _version_entry(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    from .versions import remember_fresh

    remember_fresh(history_instance if entry_for_version(history_instance) is not None else None)


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(AuditEntry.Action.LOGIN, obj=user, request=request, user=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(AuditEntry.Action.LOGOUT, obj=user, request=request, user=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Only the name that was tried: Django already masks the password, and we keep none of the rest."""
    tried = str(credentials.get("username") or credentials.get("email") or credentials.get("login") or "")[:150]
    record(AuditEntry.Action.LOGIN_FAILED, request=request, username=tried, object_type="auth.user",
           object_repr=tried, message=f"Sign-in failed for {tried!r}")


def _two_factor(message: str) -> Any:
    def handler(sender: Any, request: Any = None, authenticator: Any = None, **kwargs: Any) -> None:
        user = getattr(request, "user", None)
        record(AuditEntry.Action.TWO_FACTOR, obj=user if getattr(user, "pk", None) else None, request=request,
               message=f"{message}: {getattr(authenticator, 'type', '') or 'two-factor'}")
    return handler


try:  # allauth's two-factor signals
    from allauth.mfa import signals as mfa_signals

    _added = _two_factor("Authenticator added")
    _removed = _two_factor("Authenticator removed")
    _reset = _two_factor("Recovery codes regenerated")
    mfa_signals.authenticator_added.connect(_added, weak=False, dispatch_uid="audit-mfa-added")
    mfa_signals.authenticator_removed.connect(_removed, weak=False, dispatch_uid="audit-mfa-removed")
    mfa_signals.authenticator_reset.connect(_reset, weak=False, dispatch_uid="audit-mfa-reset")
except ImportError:  # pragma: no cover - allauth.mfa is a dependency
    pass


def _route_chain_set(sender: Any, route: Any, **kwargs: Any) -> None:
    from .versions import route_chain_set

    route_chain_set(route)


def _route_run_created(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Keep which versions a route run uses, when it is created (the task page shows them later)."""
    if not created or raw:
        return
    from .models import RunVersions
    from .versions import run_versions

    RunVersions.objects.create(route_run=instance, versions=run_versions(instance))


def _auth_event(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Grants and revocations of HTTP clients (every client type writes them to the auth log, never a secret)."""
    actions = {"granted": AuditEntry.Action.GRANT, "revoked": AuditEntry.Action.REVOKE}
    if not created or raw or instance.event not in actions:
        return
    record(actions[instance.event], user=instance.user, object_type="clients.httpclient",
           object_id=str(instance.client_id or ""), object_repr=instance.client_name, message=instance.message)


def _connect_connections() -> None:
    from django.db.models.signals import post_save

    from clients.models import AuthEvent
    from connections.models import RouteRun
    from connections.models.routes import chain_set

    chain_set.connect(_route_chain_set, dispatch_uid="audit-route-chain")
    post_save.connect(_route_run_created, sender=RouteRun, dispatch_uid="audit-route-run-versions")
    post_save.connect(_auth_event, sender=AuthEvent, dispatch_uid="audit-grants")


_connect_connections()
