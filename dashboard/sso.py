"""Optional single sign-on through an OpenID Connect provider (allauth's ``openid_connect``), set by environment.

``DASH_OIDC_SERVER_URL`` switches it on (see README, "Single sign-on"). A user who signs in through the provider
is created on first sign-in (only through the provider: there is still no self sign-up), and on every sign-in
gets the role that ``role_from_claims`` reads from a claim of the ID token or the userinfo answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from .roles import ROLE_GROUPS  # roles.py imports no Django: settings may import this module

__all__ = ["PROVIDER_ID", "apply_sso_role", "claims_of", "connect", "parse_role_map", "role_from_claims"]

PROVIDER_ID = "sso"
_RANK = {name: role for role, name in ROLE_GROUPS.items()}


def parse_role_map(text: str) -> dict[str, str]:
    """``"dash-admins=Administrator,dash-editors=Editor"`` -> ``{"dash-admins": "Administrator", ...}``;
    a role that is not one of ours is refused at start-up (ValueError)."""
    mapping: dict[str, str] = {}
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        value, sep, role = part.rpartition("=")
        if not sep or not value.strip() or role.strip() not in _RANK:
            raise ValueError(f"DASH_OIDC_ROLE_MAP: {part!r} is not VALUE=Administrator|Editor|Viewer")
        mapping[value.strip()] = role.strip()
    return mapping


def role_from_claims(claims: Mapping[str, Any], *, claim: str, mapping: Mapping[str, str],
                     default: str = "") -> str:
    """The role a user gets from ``claims``: the highest role any value of ``claim`` maps to (the claim may be
    a string or a list, e.g. ``groups``), else ``default`` ("" = no role: the user can sign in and see nothing)."""
    raw = claims.get(claim)
    values = [raw] if isinstance(raw, str) else [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
    roles = [mapping[value] for value in values if value in mapping]
    if not roles:
        return default
    return max(roles, key=lambda name: _RANK[name])


def claims_of(extra_data: Mapping[str, Any]) -> dict[str, Any]:
    """The userinfo answer with the ID token's claims over it (allauth keeps both in ``extra_data``)."""
    claims = {key: value for key, value in extra_data.items() if key != "id_token"}
    id_token = extra_data.get("id_token")
    if isinstance(id_token, Mapping):
        claims.update(id_token)
    return claims


def apply_sso_role(user: Any, sociallogin: Any, request: HttpRequest | None) -> str:
    """Give ``user`` the role the provider's claims say (called on every sign-in through the provider)."""
    from django.conf import settings

    from .lifecycle import LifecycleRefused, set_role
    from .roles import role_of

    role = role_from_claims(claims_of(sociallogin.account.extra_data or {}), claim=settings.OIDC_ROLE_CLAIM,
                            mapping=settings.OIDC_ROLE_MAP, default=settings.OIDC_DEFAULT_ROLE)
    if role and role != role_of(user).label:
        try:
            set_role(user, role, request=request)
        except LifecycleRefused:  # never demote the last Administrator from a claim
            return role_of(user).label
    return role or role_of(user).label  # no mapped value and no default: keep the role given by hand


def _on_login(sender: Any, request: HttpRequest, user: Any, sociallogin: Any = None, **kwargs: Any) -> None:
    if sociallogin is not None and sociallogin.account.provider == PROVIDER_ID:
        apply_sso_role(user, sociallogin, request)


def connect() -> None:
    """Listen to sign-ins (called from ``DashboardConfig.ready`` when single sign-on is configured)."""
    from allauth.account.signals import user_logged_in

    user_logged_in.connect(_on_login, dispatch_uid="dash-sso-role")
