"""The Exact Online HTTP Client type, and ``api_for``: an ``ExactApi`` wired to a stored client.

``api_for(http_client)`` works from anywhere (web, worker, shell): it reads the client's config and
secrets, and plugs in the Django grant store (single-flight refresh), the shared quota store and, when
*Log requests* is on, the request logger.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clients.models import AuthEvent, HttpClient
from clients.registry import CircuitInfo, ClientType, GrantError, LookupFailed, LookupProvider, QuotaInfo, TestResult
from clients.usage import counter_for
from connections.waits import WaitUntil

from .api import ExactApi
from .error_budget import ErrorBudgetGuard, ErrorBudgetPolicy, open_circuits
from .errors import ExactError, NeedsReconnect, QuotaWait, is_outage, outage_reason, outage_until
from .forms import ExactOnlineClientConfig, ExactOnlineClientForm
from .models import ErrorBudget, ExactAccess, QuotaState, access_of
from .oauth import ExactOAuth
from .quota import parse_rate_limits, quota_scope
from .stores import (
    DjangoErrorBudgetStore,
    DjangoGrantStore,
    DjangoRequestLogger,
    budget_state,
    quota_store_for,
)
from .transport import Transport
from .webhooks import topic_choices, webhook_for

if TYPE_CHECKING:
    from django import forms
    from django.contrib.auth.models import AbstractBaseUser

__all__ = ["KIND", "ExactOnlineClientType", "api_for", "grant_store_for", "oauth_for", "open_error_circuits",
           "open_error_circuits_for", "redirect_uri"]

KIND = "exact_online"


def redirect_uri() -> str:
    """The OAuth redirect URI to register in Exact's App Center (this site's callback)."""
    return settings.SITE_URL.rstrip("/") + reverse("clients:oauth_callback")


def _transport(client: HttpClient, store: DjangoGrantStore | None = None) -> Transport:
    def secrets() -> list[str]:
        values = [client.get_secret("client_secret"), client.get_secret("webhook_secret")]
        if store is not None:
            values += store.current_secrets()
        return values

    logger = DjangoRequestLogger(client) if client.log_requests else None
    return Transport(timeout=settings.OUTBOUND_TIMEOUT, logger=logger, secret_values=secrets,
                     counter=counter_for(client))


def oauth_for(client: HttpClient, transport: Transport | None = None) -> ExactOAuth:
    config = client.config or {}
    if not config.get("base_url") or not config.get("client_id"):
        raise NeedsReconnect(f"{client.name} is not configured: set its Base URI and Client ID.")
    if not client.get_secret("client_secret"):
        raise NeedsReconnect(f"{client.name} has no Client Secret stored: enter it on the client's edit page.")
    return ExactOAuth(
        base_url=config["base_url"],
        client_id=config["client_id"],
        client_secret=client.get_secret("client_secret"),
        redirect_uri=redirect_uri(),
        transport=transport or _transport(client),
    )


def grant_store_for(client: HttpClient, **kwargs: Any) -> DjangoGrantStore:
    store = DjangoGrantStore(client, oauth_for(client), **kwargs)
    store.oauth.transport = _transport(client, store)
    return store


def api_for(http_client: HttpClient, **overrides: Any) -> ExactApi:
    """An ``ExactApi`` for ``http_client`` (overrides: ``sleep``, ``max_wait``, ``backoff``, ``max_attempts``...).

    ``max_wait`` is 0 unless given: a call the division's quota cannot take now raises ``QuotaWait`` at once
    (the worker defers its work to the reset instead of sleeping, ``connections.waits``). ``max_attempts`` is 1
    unless given: a connection error, a 5xx or a 401 blip is raised at once, never retried after a sleep in
    this process; the caller defers the work (``errors.is_outage``) or counts an attempt.
    """
    sleep = overrides.pop("sleep", time.sleep)
    overrides.setdefault("max_wait", 0.0)
    overrides.setdefault("max_attempts", 1)
    store = grant_store_for(http_client, sleep=sleep)
    return ExactApi(
        base_url=http_client.config["base_url"],
        grant_store=store,
        quota_store=overrides.pop("quota_store", None) or quota_store_for(http_client),
        error_budget=overrides.pop("error_budget", None) or ErrorBudgetGuard(
            DjangoErrorBudgetStore(http_client), ErrorBudgetPolicy.from_settings(),
            clock=overrides.get("clock", time.time)),
        transport=store.oauth.transport,
        sleep=sleep,
        **overrides,
    )


def open_error_circuits(client: HttpClient) -> list[dict[str, Any]]:
    """Endpoints the error-budget guard holds back for ``client`` now (for the client page)."""
    return open_error_circuits_for([client])[client.pk]


def open_error_circuits_for(clients: list[HttpClient]) -> dict[int, list[dict[str, Any]]]:
    """``open_error_circuits`` of each of ``clients`` by id, in one query."""
    rows: dict[int, list[ErrorBudget]] = {client.pk: [] for client in clients}
    for row in ErrorBudget.objects.filter(client__in=list(rows)).order_by("client_id", "division", "endpoint"):
        rows[row.client_id].append(row)
    now, policy = time.time(), ErrorBudgetPolicy.from_settings()
    return {pk: [{"endpoint": endpoint, "division": division or None, "errors": state.errors,
                  "consecutive": state.consecutive, "last_status": state.last_status, "last_error": state.last_error,
                  "until": datetime.fromtimestamp(until, tz=UTC)}
                 for endpoint, division, state, until in open_circuits(
                     [(row.endpoint, row.division, budget_state(row)) for row in budgets], now, policy)]
            for pk, budgets in rows.items()}


def _division_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        try:
            code = int(row.get("Code") or "")
        except (TypeError, ValueError):
            continue
        out.append({"code": code, "description": str(row.get("Description") or ""),
                    "customer": str(row.get("CustomerName") or "")})
    return sorted(out, key=lambda r: r["code"])


def _quota_headers_shown(headers: Any) -> dict[str, str]:
    """Exact's X-RateLimit-* headers as people read them: the resets (epoch ms) as times in the site's zone."""
    limits = parse_rate_limits(headers)
    resets = {"x-ratelimit-reset": limits.daily_reset, "x-ratelimit-minutely-reset": limits.minutely_reset}
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if not name.lower().startswith("x-ratelimit"):
            continue
        moment = resets.get(name.lower())
        shown[name] = f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S} ({value})" if moment else str(value)
    return shown


class ExactOnlineClientType(ClientType):
    kind = KIND
    label = "Exact Online HTTP Client"
    description = "OAuth 2 access to one Exact Online app registration on one region."
    Config = ExactOnlineClientConfig
    secret_fields = ("client_secret", "webhook_secret")
    bound_to = ("base_url", "client_id")  # the secret is posted to the Base URI's token endpoint
    rebound_message = ("The Base URI or Client ID changed: the stored Client Secret, webhook secret and tokens were "
                       "removed. Grant access again.")
    form_class = ExactOnlineClientForm
    detail_template = "exact_online/client_detail.html"
    supports_grant = True
    grant_label = "Grant access to Exact Online"
    system_name = "Exact Online"

    def copy_fields(self) -> list[tuple[str, str, str]]:
        return [("Redirect URI", redirect_uri(),
                 "Register this redirect URI for the app in Exact Online's App Center.")]

    def values_from(self, form: forms.Form) -> dict[str, Any]:
        assert isinstance(form, ExactOnlineClientForm)
        return form.config_values()

    def summary(self, client: HttpClient) -> list[tuple[str, str]]:
        config = client.config or {}
        return [
            ("Base URI", config.get("base_url", "—")),
            ("Client ID", config.get("client_id", "—")),
            ("Client Secret", "stored (hidden)" if client.get_secret("client_secret") else "not set"),
            ("Webhook secret", "stored (hidden)" if client.get_secret("webhook_secret") else "not set"),
            ("Scopes", config.get("scopes") or "—"),
        ]

    # --- grant ----------------------------------------------------------------------------------
    def authorization_url(self, client: HttpClient, *, state: str, code_verifier: str = "") -> str:
        try:
            return oauth_for(client).authorization_url(state=state)
        except (ExactError, ValueError) as exc:
            raise GrantError(str(exc)) from None

    def complete_grant(self, client: HttpClient, *, code: str, user: AbstractBaseUser | None,
                       code_verifier: str = "") -> str:
        try:
            token = oauth_for(client).exchange_code(code)
        except ExactError as exc:
            AuthEvent.record(client, AuthEvent.Event.GRANT_FAILED, exc.message, user=user,
                             details={"status": exc.status, "reason": exc.reason})
            raise GrantError(exc.message) from None
        # Persist the new chain before anything else (FIELD-NOTES A4, A6).
        grant_store_for(client).store_new_grant(token, user=user)
        warning = ""
        try:
            api = api_for(client, max_wait=20.0, max_attempts=2, backoff=1.0)
            with quota_scope(interactive=True):
                me = api.me()
                current = int(me["CurrentDivision"]) if me.get("CurrentDivision") is not None else None
                rows = _division_rows(api.divisions(current)) if current is not None else []
        except (ExactError, KeyError, ValueError, TypeError) as exc:
            me, current, rows = {}, None, []
            warning = f" but the Exact user and divisions could not be read ({exc})"
        access, _ = ExactAccess.objects.get_or_create(client=client)
        if me:
            access.exact_user_id = str(me.get("UserID") or "")
            access.exact_user_name = str(me.get("FullName") or me.get("UserName") or "")
            access.exact_user_email = str(me.get("Email") or "")
            access.current_division = current
            access.divisions = rows
            codes = {r["code"] for r in rows}
            if access.default_division not in codes:
                access.default_division = current if current in codes or not rows else rows[0]["code"]
            access.save(update_fields=["exact_user_id", "exact_user_name", "exact_user_email", "current_division",
                                       "divisions", "default_division"])
        who = f" as Exact user {access.exact_user_name}" if access.exact_user_name else ""
        message = f"Access granted{who}{warning}."
        if rows:
            message = f"Access granted{who}: {len(rows)} division{'s' if len(rows) != 1 else ''} available."
        AuthEvent.record(client, AuthEvent.Event.GRANTED, message, user=user,
                         details={"exact_user": access.exact_user_name, "divisions": len(rows)})
        return message

    def revoke(self, client: HttpClient, *, user: AbstractBaseUser | None) -> str:
        client.revoke_grant()
        AuthEvent.record(client, AuthEvent.Event.REVOKED, "Tokens deleted; the client no longer talks to Exact.",
                         user=user)
        return ("Access revoked: the tokens are deleted. Exact Online has no revocation endpoint; to withdraw "
                "the app there as well, remove it under App privileges in Exact Online.")

    def keep_alive(self, client: HttpClient) -> str:
        store = grant_store_for(client)
        token = store.refresh_now()
        AuthEvent.record(client, AuthEvent.Event.KEEPALIVE,
                         f"Idle grant refreshed to keep the refresh token alive (version {token.version}).")
        return "refreshed"

    # --- checks ---------------------------------------------------------------------------------
    def test_connection(self, client: HttpClient, *, user: AbstractBaseUser | None = None) -> TestResult:
        try:
            api = api_for(client, max_wait=20.0, max_attempts=1)
            with quota_scope(interactive=True):
                response = api.request("GET", "current/Me", division=None, retry_transient=False)
            results = (response.body or {}).get("d", {}).get("results") or [{}]
            me = results[0] if isinstance(results[0], dict) else {}
        except ExactError as exc:
            AuthEvent.record(client, AuthEvent.Event.TEST_FAILED, exc.message, user=user,
                             details={"status": exc.status, "reason": exc.reason})
            return TestResult(ok=False, message=exc.message, status=exc.status)
        except (AttributeError, IndexError, TypeError):
            AuthEvent.record(client, AuthEvent.Event.TEST_FAILED, "current/Me had an unexpected shape.", user=user)
            return TestResult(ok=False, message="Exact Online answered, but current/Me had an unexpected shape.")
        quota = _quota_headers_shown(response.headers)
        name = me.get("FullName") or me.get("UserName") or "an unnamed user"
        message = f"Connected to Exact Online as {name} (current division {me.get('CurrentDivision', '—')})."
        AuthEvent.record(client, AuthEvent.Event.TEST_OK, message, user=user,
                         details={"status": response.status, "elapsed_ms": round(response.elapsed_ms, 1)})
        return TestResult(ok=True, message=message, status=response.status, elapsed_ms=response.elapsed_ms,
                          quota_headers=quota,
                          details={"request": f"GET {response.url}",
                                   **{k: me.get(k) for k in ("FullName", "UserName", "CurrentDivision", "UserID")}})

    def divisions(self, client: HttpClient) -> list[tuple[int, str]]:
        access = access_of(client)
        if access is None:
            return []
        return [(row["code"], f"{row['code']} · {row.get('description') or ''}".strip(" ·"))
                for row in access.divisions or []]

    def default_division(self, client: HttpClient) -> int | None:
        access = access_of(client)
        return access.division if access is not None else None

    def set_division(self, client: HttpClient, code: int) -> str:
        access, _ = ExactAccess.objects.get_or_create(client=client)
        access.default_division = code
        access.save(update_fields=["default_division"])
        return f"Division set to {access.division_label(code)}."

    def connected_as(self, client: HttpClient) -> str:
        access = access_of(client)
        return access.exact_user_name if access is not None else ""

    def connected_as_for(self, clients: list[HttpClient]) -> dict[int, str]:
        names = dict(ExactAccess.objects.filter(client__in=[c.pk for c in clients])
                     .values_list("client_id", "exact_user_name"))
        return {client.pk: names.get(client.pk, "") for client in clients}

    def quotas(self, client: HttpClient) -> list[QuotaInfo]:
        return self.quotas_for([client])[client.pk]

    def quotas_for(self, clients: list[HttpClient]) -> dict[int, list[QuotaInfo]]:
        found: dict[int, list[QuotaInfo]] = {client.pk: [] for client in clients}
        for q in QuotaState.objects.filter(client__in=list(found)).order_by("client_id", "division"):
            found[q.client_id].append(QuotaInfo(
                division=q.division, daily_limit=q.daily_limit, daily_remaining=q.daily_remaining,
                minutely_limit=q.minutely_limit, minutely_remaining=q.minutely_remaining, parked_until=q.parked_until,
                throttled_count=q.throttled_count, daily_reset=q.daily_reset))
        return found

    def open_circuits(self, client: HttpClient) -> list[CircuitInfo]:
        return self.open_circuits_for([client])[client.pk]

    def open_circuits_for(self, clients: list[HttpClient]) -> dict[int, list[CircuitInfo]]:
        return {pk: [CircuitInfo(division=int(c["division"] or 0), scope=c["endpoint"], until=c["until"],
                                 reason=f"{c['errors']} errors this hour (last: HTTP {c['last_status']})")
                     for c in circuits]
                for pk, circuits in open_error_circuits_for(clients).items()}

    def health_summary(self, client: HttpClient) -> dict[str, Any]:
        grant = client.grant_or_none
        return {"grant": grant, "quotas": self.quotas(client), "seconds_left": grant.seconds_left if grant else None}

    def detail_context(self, client: HttpClient) -> dict[str, Any]:
        grant = client.grant_or_none
        return {
            "grant": grant,
            "access": access_of(client),
            "redirect_uri": redirect_uri(),
            "division_choices": self.divisions(client),
            "quotas": QuotaState.objects.filter(client=client).order_by("division"),
            "open_circuits": open_error_circuits(client),
            "webhook": webhook_for(client),
            "webhook_topics": topic_choices(),
        }


class ExactLookup(LookupProvider):
    """The *HTTP lookup* step through an Exact Online client: a GET (or POST) on the REST API, in the
    client's default division, e.g. ``crm/Accounts`` with ``{"$filter": "Email eq '&{email}'"}``."""

    kind = KIND
    label = "Exact Online lookup"

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        """The answer's body. A used-up quota or an outage raises ``WaitUntil`` at once (no worker sleeps):
        the page being read, or the batch being published, waits for it without spending an attempt."""
        access = access_of(client)
        division = access.division if access is not None else None
        try:
            api = api_for(client)  # max_wait 0, one attempt: a wait or an outage is raised at once
            with quota_scope(interactive=True):  # lookups may use the daily reserve
                response = api.request(str(request.get("method") or "GET"), str(request.get("path") or ""),
                                       division=division, params=request.get("query") or None,
                                       json=request.get("body"), retry_transient=True)
        except QuotaWait as exc:  # nothing sent: wait for the reset
            raise WaitUntil(f"{exc.wait_reason} (lookup by {client.name})",
                            datetime.fromtimestamp(exc.until, tz=UTC)) from exc
        except ExactError as exc:
            if is_outage(exc):  # Exact did not answer (or not now): wait for it, not an attempt
                raise WaitUntil(f"{outage_reason(exc, division)} (lookup by {client.name})", outage_until(),
                                counted=False, entity_only=True) from exc
            raise LookupFailed(f"{client.name}: {exc.message}", transient=not exc.permanent) from None
        return response.body
