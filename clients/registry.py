"""The client-type registry: what each kind of HTTP client is, declared by connector apps.

The platform (views, forms, dashboard) only talks to ``ClientType``; each connector app registers its
type from its ``AppConfig.ready()``. A new connector is one more subclass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.utils import timezone

from lib.plugins import Plugin, Registry

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from .models import HttpClient

__all__ = [
    "CLIENT_TYPES",
    "LOOKUP_PROVIDERS",
    "CircuitInfo",
    "ClientType",
    "GrantError",
    "LookupFailed",
    "LookupProvider",
    "QuotaInfo",
    "TestResult",
    "client_type_choices",
    "get_client_type",
    "register_client_type",
    "registered_types",
]


class GrantError(Exception):
    """A grant could not be completed; the message is safe to show (no secrets)."""


class LookupFailed(Exception):
    """An HTTP lookup failed; the message is safe to show (no secrets) and says why.

    ``transient``: the system may answer later (unreachable, 5xx, rate limited): the task waits and retries.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class TestResult:
    ok: bool
    message: str
    status: int | None = None
    elapsed_ms: float | None = None
    quota_headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    preview: str = ""  # the first bytes of the answer, when the type shows them


@dataclass
class QuotaInfo:
    """What a client type knows of its API allowance for one scope (e.g. a division of the remote system; 0 = none)."""

    division: int
    daily_limit: int | None = None
    daily_remaining: int | None = None
    minutely_limit: int | None = None
    minutely_remaining: int | None = None
    parked_until: datetime | None = None
    throttled_count: int = 0
    daily_reset: datetime | None = None  # after it, ``daily_remaining`` is yesterday's news

    @property
    def is_current(self) -> bool:
        """Whether the daily figures still describe today (no reset passed since they were read)."""
        return self.daily_reset is None or self.daily_reset > timezone.now()

    @property
    def daily_used_percent(self) -> int | None:
        if not self.daily_limit or self.daily_remaining is None:
            return None
        return round(max(0.0, min(1.0, 1 - self.daily_remaining / self.daily_limit)) * 100)

    @property
    def is_parked(self) -> bool:
        return bool(self.parked_until and self.parked_until > timezone.now())


@dataclass
class CircuitInfo:
    """A part of the remote API a client type holds back for now (e.g. an endpoint after too many errors)."""

    division: int
    scope: str
    until: datetime
    reason: str = ""


class ClientType(Plugin):
    """One kind of HTTP client. Subclasses set the class attributes and implement the hooks they support.

    Client types are used as instances made without arguments (``get_client_type``); the client is passed
    to every hook. ``form_class`` may replace the form built from ``form_fields()`` when a type needs
    cross-field cleaning.
    """

    # Config keys the stored secrets and grant belong to (where they are sent, whose they are): changing one
    # drops the secrets and tokens, so an editor cannot redirect a stored secret to an address of their own.
    bound_to: ClassVar[tuple[str, ...]] = ()
    rebound_message: ClassVar[str] = ("The settings this client's secrets belong to changed: its secrets and tokens "
                                      "were removed. Enter the secrets again and grant access.")
    # Called as form_class(data=, initial=, editing=, stored_secrets=): a form class taking those arguments.
    form_class: ClassVar[Callable[..., forms.Form] | None] = None
    detail_template: ClassVar[str] = ""
    supports_grant: ClassVar[bool] = False
    grant_label: ClassVar[str] = "Grant access"
    system_name: ClassVar[str] = "The authorization server"  # who is on the other side, in the grant flow's messages

    # --- configuration ----------------------------------------------------------------------------
    def form(self, data: Mapping[str, Any] | None = None, *, client: HttpClient | None = None) -> forms.Form:
        """The type's form; ``stored_secrets`` names the secret values the client has (never the values)."""
        editing = client is not None and client.pk is not None
        initial = self.initial(client) if client else None
        if self.form_class is not None:
            stored = frozenset(name for name in self.secret_fields if client is not None and client.get_secret(name))
            return self.form_class(data=data, initial=initial, editing=editing,
                                   stored_secrets=stored)
        form = forms.Form(data=data, initial=initial)
        form.fields.update(self.secure_form_fields(editing=editing))
        return form

    def initial(self, client: HttpClient) -> dict[str, Any]:
        """Form initial values from the stored config (secrets are never rendered back)."""
        return {k: v for k, v in client.config.items() if k not in self.secret_fields}

    def apply(self, client: HttpClient, form: forms.Form) -> bool:
        """Store a valid form's values: plain ones validated in ``config``, secret ones encrypted.

        Returns whether a ``bound_to`` key changed on a stored client: then only the secrets entered in this
        form are kept (the caller also forgets the grant, see ``HttpClient.forget_grant``).
        """
        plain, secret = self.split_secrets(self.values_from(form))
        config = self.validate_config(plain)
        before = dict(client.config or {}) if client.pk is not None else {}
        rebound = client.pk is not None and any(before.get(k) != config.get(k) for k in self.bound_to)
        client.config = config
        if rebound:
            client.secrets = ""
        client.set_secrets(secret, keep=self.secret_fields)
        return rebound

    def grantable(self, client: HttpClient) -> bool:
        """Whether *Grant access* applies to this client (a type may support it for some settings only)."""
        return self.supports_grant

    def copy_fields(self) -> list[tuple[str, str, str]]:
        """(label, value, help) shown with a copy button on the client form and page (e.g. a redirect URI)."""
        return []

    def values_from(self, form: forms.Form) -> dict[str, Any]:
        return dict(form.cleaned_data)

    def summary(self, client: HttpClient) -> list[tuple[str, str]]:
        """(label, value) pairs shown on the client page; never secrets."""
        rows = [(k.replace("_", " ").capitalize(), str(v)) for k, v in client.config.items()]
        return rows + [(name.replace("_", " ").capitalize(),
                        "stored (hidden)" if client.get_secret(name) else "not set") for name in self.secret_fields]

    # --- behaviour hooks ------------------------------------------------------------------------
    def authorization_url(self, client: HttpClient, *, state: str, code_verifier: str = "") -> str:
        """Where to send the user to consent; ``code_verifier`` (kept in the session) is for PKCE."""
        raise NotImplementedError

    def complete_grant(self, client: HttpClient, *, code: str, user: AbstractBaseUser | None,
                       code_verifier: str = "") -> str:
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
        """The scopes a client can default to (e.g. divisions); empty when the type has none."""
        return []

    def default_division(self, client: HttpClient) -> int | None:
        return None

    def set_division(self, client: HttpClient, code: int) -> str:
        """Make ``code`` (one of ``divisions``) the default; returns the message to show."""
        raise NotImplementedError

    def connected_as(self, client: HttpClient) -> str:
        """Who or what the grant acts as at the other side (shown in the client list), or ``""``."""
        return ""

    def connected_as_for(self, clients: list[HttpClient]) -> dict[int, str]:
        """``connected_as`` of many clients of this type by client id, like ``quotas_for``."""
        return {client.pk: self.connected_as(client) for client in clients}

    def quotas(self, client: HttpClient) -> list[QuotaInfo]:
        """What the API last said about the allowance left, per scope."""
        return []

    def quotas_for(self, clients: list[HttpClient]) -> dict[int, list[QuotaInfo]]:
        """``quotas`` of many clients of this type by client id (the dashboard's panels); a type that stores them
        answers in one query, whatever the number of clients."""
        return {client.pk: self.quotas(client) for client in clients}

    def open_circuits(self, client: HttpClient) -> list[CircuitInfo]:
        """What the type holds back now (its error budget, a circuit breaker); empty when it has none."""
        return []

    def open_circuits_for(self, clients: list[HttpClient]) -> dict[int, list[CircuitInfo]]:
        """``open_circuits`` of many clients of this type by client id, like ``quotas_for``."""
        return {client.pk: self.open_circuits(client) for client in clients}

    def health_summary(self, client: HttpClient) -> dict[str, Any]:
        return {}

    def detail_context(self, client: HttpClient) -> dict[str, Any]:
        return {}


class LookupProvider(Plugin):
    """Answers the *HTTP lookup* transformer step through one kind of client (``kind`` = the client type's)."""

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        """Send ``request`` (method, path, query, body) through ``client``; return the JSON answer.

        Raise ``LookupFailed`` with a clear message when it cannot be answered."""
        raise NotImplementedError


CLIENT_TYPES: Registry[ClientType] = Registry("HTTP client type")
LOOKUP_PROVIDERS: Registry[LookupProvider] = Registry("lookup provider")

register_client_type = CLIENT_TYPES.register


def get_client_type(kind: str) -> ClientType:
    """An instance of the client type ``kind``; ``LookupError`` when it is not installed."""
    return CLIENT_TYPES.get(kind)()


def registered_types() -> list[ClientType]:
    return [cls() for cls in CLIENT_TYPES.all()]


def client_type_choices() -> list[tuple[str, str]]:
    return CLIENT_TYPES.choices()
