"""The client-type registry: what each kind of HTTP client is, declared by connector apps.

The platform (views, forms, dashboard) only talks to ``ClientType``; ``exact_online`` registers its
type from ``ExactOnlineConfig.ready()``. A second connector is one more subclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from pydantic import BaseModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from .models import HttpClient

__all__ = [
    "ClientType",
    "GrantError",
    "TestResult",
    "client_type_choices",
    "get_client_type",
    "register_client_type",
    "registered_types",
]


class GrantError(Exception):
    """A grant could not be completed; the message is safe to show (no secrets)."""


@dataclass
class TestResult:
    ok: bool
    message: str
    status: int | None = None
    elapsed_ms: float | None = None
    quota_headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class ClientType:
    """One kind of HTTP client. Subclasses set the class attributes and implement the hooks they support."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel] | None] = None
    sensitive: ClassVar[tuple[str, ...]] = ()
    # Config keys the stored secrets and grant belong to (where they are sent, whose they are): changing one
    # drops the secrets and tokens, so an editor cannot redirect a stored secret to an address of their own.
    bound_to: ClassVar[tuple[str, ...]] = ()
    rebound_message: ClassVar[str] = ("The settings this client's secrets belong to changed: its secrets and tokens "
                                      "were removed. Enter the secrets again and grant access.")
    form_class: ClassVar[type[forms.Form] | None] = None
    detail_template: ClassVar[str] = ""
    supports_grant: ClassVar[bool] = False
    grant_label: ClassVar[str] = "Grant access"

    # --- configuration ----------------------------------------------------------------------------
    def form(self, data: Mapping[str, Any] | None = None, *, client: HttpClient | None = None) -> forms.Form:
        """The type's form; ``stored_secrets`` names the sensitive values the client has (never the values)."""
        assert self.form_class is not None
        stored = frozenset(name for name in self.sensitive if client is not None and client.get_secret(name))
        return self.form_class(data=data, initial=self.initial(client) if client else None,  # type: ignore[call-arg]
                               editing=client is not None and client.pk is not None, stored_secrets=stored)

    def initial(self, client: HttpClient) -> dict[str, Any]:
        """Form initial values from the stored config (secrets are never rendered back)."""
        return {k: v for k, v in client.config.items() if k not in self.sensitive}

    def apply(self, client: HttpClient, form: forms.Form) -> bool:
        """Store a valid form's values: non-secret ones in ``config``, sensitive ones encrypted.

        Returns whether a ``bound_to`` key changed on a stored client: then only the secrets entered in this
        form are kept (the caller also forgets the grant, see ``HttpClient.forget_grant``).
        """
        cleaned = self.values_from(form)
        config = {k: v for k, v in cleaned.items() if k not in self.sensitive}
        if self.config_model is not None:
            config = self.config_model.model_validate(config).model_dump(mode="json")
        before = dict(client.config or {}) if client.pk is not None else {}
        rebound = client.pk is not None and any(before.get(k) != config.get(k) for k in self.bound_to)
        client.config = config
        if rebound:
            client.secrets = ""
        client.set_secrets({k: str(cleaned.get(k) or "") for k in self.sensitive})
        return rebound

    def copy_fields(self) -> list[tuple[str, str, str]]:
        """(label, value, help) shown with a copy button on the client form and page (e.g. a redirect URI)."""
        return []

    def values_from(self, form: forms.Form) -> dict[str, Any]:
        return dict(form.cleaned_data)

    def summary(self, client: HttpClient) -> list[tuple[str, str]]:
        """(label, value) pairs shown on the client page; never secrets."""
        return [(k.replace("_", " ").capitalize(), str(v)) for k, v in client.config.items()]

    # --- behaviour hooks ------------------------------------------------------------------------
    def authorization_url(self, client: HttpClient, *, state: str) -> str:
        raise NotImplementedError

    def complete_grant(self, client: HttpClient, *, code: str, user: AbstractBaseUser | None) -> str:
        """Exchange ``code``, store the grant, return a success message; raise ``GrantError`` otherwise."""
        raise NotImplementedError

    def test_connection(self, client: HttpClient, *, user: AbstractBaseUser | None = None) -> TestResult:
        raise NotImplementedError

    def revoke(self, client: HttpClient, *, user: AbstractBaseUser | None) -> str:
        raise NotImplementedError

    def keep_alive(self, client: HttpClient) -> str:
        """Refresh an idle grant so its refresh token does not expire (no-op for types without one)."""
        return "not supported"

    def divisions(self, client: HttpClient) -> list[tuple[int, str]]:
        return []

    def health_summary(self, client: HttpClient) -> dict[str, Any]:
        return {}

    def detail_context(self, client: HttpClient) -> dict[str, Any]:
        return {}


_TYPES: dict[str, ClientType] = {}


def register_client_type(cls: type[ClientType]) -> type[ClientType]:
    """Register a client type (usable as a class decorator); re-registering a kind replaces it."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    _TYPES[cls.kind] = cls()
    return cls


def get_client_type(kind: str) -> ClientType:
    try:
        return _TYPES[kind]
    except KeyError:
        raise LookupError(f"No HTTP client type {kind!r} is installed") from None


def registered_types() -> list[ClientType]:
    return sorted(_TYPES.values(), key=lambda t: t.label)


def client_type_choices() -> list[tuple[str, str]]:
    return [(t.kind, t.label) for t in registered_types()]
