"""The generic HTTP Client type: Base URI, default headers, timeout, TLS, a shared rate limit, request logging
and authentication (none, Basic, Bearer, API key, OAuth 2 client credentials or authorization code with PKCE),
plus *Test connection* and the *HTTP lookup* provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from pydantic import ValidationError as PydanticValidationError

from clients.models import AuthEvent, HttpClient
from clients.registry import ClientType, GrantError, LookupFailed, LookupProvider, TestResult
from connections.waits import WaitUntil
from lib.http import redact_text
from lib.plugins import secret_widget

from .api import OUTAGE_STATUSES, PREVIEW_BYTES, CallError, RestApi, redirect_uri, wait_for
from .auth import RestTokenStore, TokenFailure
from .config import AUTH_CHOICES, OAUTH, SECRET_FIELDS, RestClientConfig, normalise_base_url

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = ["KIND", "HttpLookup", "RestClientForm", "RestClientType", "parse_headers"]

KIND = "http"


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines into a dict; ValueError naming the bad line."""
    headers: dict[str, str] = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ValueError(f"{line!r} is not a header (Name: value)")
        headers[name.strip()] = value.strip()
    return headers


class RestClientForm(forms.Form):
    base_url = forms.CharField(label="Base URI", max_length=500, widget=forms.URLInput(
        attrs={"placeholder": "https://api.example.com/v1"}), help_text="Every request goes to this host.")
    headers = forms.CharField(label="Default headers", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="One per line, Name: value (sent with every request).")
    timeout = forms.FloatField(label="Timeout (seconds)", initial=30, min_value=1, max_value=300)
    verify_tls = forms.BooleanField(label="Verify TLS certificates", required=False, initial=True,
                                    help_text="Untick only for a test server with a self-signed certificate.")
    rate_limit = forms.IntegerField(label="Requests per minute", required=False, min_value=1,
                                    help_text="Optional; shared by every worker using this client.")
    test_path = forms.CharField(label="Test path", required=False, max_length=500,
                                help_text="What Test connection calls, e.g. /orders?limit=1 (empty: the Base URI).")
    auth = forms.ChoiceField(label="Authentication", choices=AUTH_CHOICES, initial="none")
    username = forms.CharField(label="Username", required=False, max_length=200, help_text="Basic.")
    password = forms.CharField(label="Password", required=False, max_length=500, help_text="Basic.")
    token = forms.CharField(label="Bearer token", required=False, max_length=4000, help_text="Bearer.")
    api_key_name = forms.CharField(label="API key name", required=False, max_length=100,
                                   help_text="API key: the header or query parameter, e.g. X-API-Key.")
    api_key_in = forms.ChoiceField(label="API key in", choices=[("header", "Header"), ("query", "Query parameter")],
                                   initial="header")
    api_key = forms.CharField(label="API key", required=False, max_length=4000)
    authorize_url = forms.CharField(label="Authorize URL", required=False, max_length=500,
                                    help_text="OAuth 2 authorization code: the consent page.")
    token_url = forms.CharField(label="Token URL", required=False, max_length=500, help_text="OAuth 2.")
    client_id = forms.CharField(label="Client ID", required=False, max_length=500, help_text="OAuth 2.")
    client_secret = forms.CharField(label="Client Secret", required=False, max_length=2000, help_text="OAuth 2.")
    scopes = forms.CharField(label="Scopes", required=False, max_length=1000, help_text="OAuth 2, space-separated.")
    pkce = forms.BooleanField(label="PKCE", required=False, initial=True,
                              help_text="OAuth 2 authorization code: send a code challenge (recommended).")

    def __init__(self, *args: Any, editing: bool = False, stored_secrets: frozenset[str] = frozenset(),
                 **kwargs: Any) -> None:
        initial = dict(kwargs.get("initial") or {})
        if isinstance(initial.get("headers"), dict):
            initial["headers"] = "\n".join(f"{k}: {v}" for k, v in initial["headers"].items())
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.stored_secrets = stored_secrets
        for name in SECRET_FIELDS:
            self.fields[name].widget = secret_widget()
            if name in stored_secrets:
                self.fields[name].widget.attrs["placeholder"] = "•••••• (stored; leave empty to keep)"
        self.fields["auth"].widget.attrs["data-role"] = "auth"

    def clean_base_url(self) -> str:
        try:
            return normalise_base_url(self.cleaned_data.get("base_url") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_headers(self) -> dict[str, str]:
        try:
            return parse_headers(self.cleaned_data.get("headers") or "")
        except ValueError as exc:
            raise forms.ValidationError(f"Default headers: {exc}.") from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        plain = {k: v for k, v in cleaned.items() if k not in SECRET_FIELDS}
        try:
            self.config = RestClientConfig.model_validate(plain)
        except PydanticValidationError as exc:
            for error in exc.errors():
                where = str(error["loc"][0]) if error.get("loc") else ""
                message = str(error["msg"]).removeprefix("Value error, ")
                self.add_error(where if where in self.fields else None, message)
            return cleaned
        needed = {"basic": "password", "bearer": "token", "api_key": "api_key",
                  "oauth2_client_credentials": "client_secret"}.get(self.config.auth)
        if needed and not cleaned.get(needed) and needed not in self.stored_secrets:
            self.add_error(needed, f"{self.fields[needed].label} is required for this authentication.")
        return cleaned

    def config_values(self) -> dict[str, Any]:
        values: dict[str, Any] = self.config.model_dump(mode="json")
        values.update({name: self.cleaned_data.get(name) or "" for name in SECRET_FIELDS})
        return values


class RestClientType(ClientType):
    kind = KIND
    label = "HTTP Client (generic REST)"
    description = ("Any JSON REST API: a Base URI, default headers and one authentication method. Calls only go to "
                   "the Base URI's host.")
    Config = RestClientConfig
    secret_fields = SECRET_FIELDS
    form_class = RestClientForm
    supports_grant = True  # only used when the authentication is OAuth 2 authorization code
    grant_label = "Grant access"
    # The stored secrets are sent to these: changing one drops them (and the token), so they must be entered again.
    bound_to = ("base_url", "token_url", "authorize_url", "client_id", "auth", "api_key_name", "api_key_in", "username")
    rebound_message = ("Where or how this client authenticates changed: its stored secrets and token were removed. "
                       "Enter them again (and grant access for OAuth 2 authorization code).")
    detail_template = "http_connector/client_detail.html"

    def values_from(self, form: forms.Form) -> dict[str, Any]:
        assert isinstance(form, RestClientForm)
        return form.config_values()

    def apply(self, client: HttpClient, form: forms.Form) -> bool:
        rebound = super().apply(client, form)
        config = RestClientConfig.model_validate(client.config)
        if config.auth not in OAUTH and client.status != HttpClient.Status.GRANTED:
            client.status = HttpClient.Status.GRANTED  # nothing to grant: usable as soon as it is saved
            client.status_message = ""
        return rebound

    def grantable(self, client: HttpClient) -> bool:
        return self._config(client).auth == "oauth2_authorization_code"

    def copy_fields(self) -> list[tuple[str, str, str]]:
        return [("Redirect URI", redirect_uri(),
                 "OAuth 2 authorization code only: register this redirect URI at the authorization server.")]

    def summary(self, client: HttpClient) -> list[tuple[str, str]]:
        config = RestClientConfig.model_validate(client.config or {})
        rows = [("Base URI", config.base_url), ("Authentication", dict(AUTH_CHOICES)[config.auth]),
                ("Timeout", f"{config.timeout:g} s"), ("TLS verification", "on" if config.verify_tls else "OFF"),
                ("Requests per minute", str(config.rate_limit or "no limit"))]
        if config.headers:
            rows.append(("Default headers", ", ".join(config.headers)))
        if config.auth == "basic":
            rows.append(("Username", config.username))
        if config.auth == "api_key":
            rows.append(("API key", f"{config.api_key_name} ({config.api_key_in})"))
        if config.auth in OAUTH:
            rows += [("Token URL", config.token_url), ("Client ID", config.client_id), ("Scopes", config.scopes or "—")]
        stored = client.get_secrets()
        rows += [(str(RestClientForm.base_fields[name].label or name), "stored (hidden)")
                 for name in SECRET_FIELDS if stored.get(name)]
        return rows

    def _config(self, client: HttpClient) -> RestClientConfig:
        return RestClientConfig.model_validate(client.config or {})

    # --- grant (OAuth 2 authorization code) --------------------------------------------------------------
    def authorization_url(self, client: HttpClient, *, state: str, code_verifier: str = "") -> str:
        config = self._config(client)
        if config.auth != "oauth2_authorization_code":
            raise GrantError("This client does not use OAuth 2 authorization code: there is nothing to grant.")
        return RestApi(client).oauth().authorization_url(state=state, code_verifier=code_verifier)

    def complete_grant(self, client: HttpClient, *, code: str, user: AbstractBaseUser | None,
                       code_verifier: str = "") -> str:
        api = RestApi(client)
        try:
            token = api.oauth().exchange_code(code, code_verifier=code_verifier)
        except TokenFailure as exc:
            AuthEvent.record(client, AuthEvent.Event.GRANT_FAILED, exc.message, user=user,
                             details={"status": exc.status})
            raise GrantError(exc.message) from None
        assert api.tokens is not None
        api.tokens.store_new_grant(token, user=user)
        message = f"Access granted; the token is valid for {token.expires_in:g} s" + (
            " and will be refreshed." if token.refresh_token else " (no refresh token: grant again when it expires).")
        AuthEvent.record(client, AuthEvent.Event.GRANTED, message, user=user)
        return message

    def revoke(self, client: HttpClient, *, user: AbstractBaseUser | None) -> str:
        client.revoke_grant()
        AuthEvent.record(client, AuthEvent.Event.REVOKED, "Tokens deleted.", user=user)
        return "Access revoked: the tokens are deleted."

    def keep_alive(self, client: HttpClient) -> str:
        if self._config(client).auth != "oauth2_authorization_code":
            return "not supported"
        store = RestTokenStore(client, RestApi(client).oauth())
        store.refresh_now()
        return "refreshed"

    def detail_context(self, client: HttpClient) -> dict[str, Any]:
        return {"grant": client.grant_or_none}

    # --- checks ------------------------------------------------------------------------------------------
    def test_connection(self, client: HttpClient, *, user: AbstractBaseUser | None = None) -> TestResult:
        config = self._config(client)
        try:
            api = RestApi(client, max_wait=5.0)
            answer = api.send("GET", config.test_path)
        except CallError as exc:
            AuthEvent.record(client, AuthEvent.Event.TEST_FAILED, exc.message, user=user,
                             details={"status": exc.status})
            return TestResult(ok=False, message=exc.message, status=exc.status)
        preview = redact_text(answer.text(PREVIEW_BYTES), api._secret_values())
        ok = answer.ok
        message = (f"GET {answer.url.split('?')[0]} answered HTTP {answer.status} in {answer.elapsed_ms:.0f} ms."
                   if ok else api.error_for(answer).message)
        AuthEvent.record(client, AuthEvent.Event.TEST_OK if ok else AuthEvent.Event.TEST_FAILED, message, user=user,
                         details={"status": answer.status, "elapsed_ms": round(answer.elapsed_ms, 1)})
        if ok and config.auth != "oauth2_authorization_code" and client.status != HttpClient.Status.GRANTED:
            HttpClient.objects.filter(pk=client.pk).update(status=HttpClient.Status.GRANTED, status_message="")
        return TestResult(ok=ok, message=message, status=answer.status, elapsed_ms=answer.elapsed_ms,
                          preview=preview)


class HttpLookup(LookupProvider):
    """The *HTTP lookup* step through a generic HTTP Client (e.g. the shop's product by SKU)."""

    kind = KIND
    label = "HTTP lookup"

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        """The answer's JSON. A 429, the client's used-up limit or an outage raises ``WaitUntil`` at once (no
        worker sleeps): the page being read, or the batch being published, waits without spending an attempt."""
        method = str(request.get("method") or "GET")
        try:
            answer = RestApi(client, max_wait=0.0).call(method, str(request.get("path") or ""),
                                                        params=request.get("query") or None,
                                                        json_body=request.get("body"), retries=0)
            return answer.json()
        except CallError as exc:
            wait = wait_for(exc, client.name)
            if wait is not None:
                raise WaitUntil(f"{wait.reason} (lookup)", wait.until, counted=False,
                                entity_only=exc.unanswered or exc.status in OUTAGE_STATUSES) from None
            raise LookupFailed(exc.message, transient=not exc.permanent) from None
