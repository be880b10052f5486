"""OAuth 2 like Exact's (API.md §2): apps, the login/consent page, the token endpoint, bearer checks.

One token *chain* per (user, app): a new consent revokes the previous chain. Refresh tokens rotate and a
used one is refused ("Old refresh token used."); a refresh within 570 s (scaled) of the last issue is
refused with ``TooEarlyToRefreshTokens``. Only hashes of codes and tokens are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string

from .guard import form_token
from .http import ApiError, Request, Response, json_response, www_authenticate
from .limits import limiter
from .monitor import monitor
from .store import Store, clock, get_store

__all__ = ["DEMO_USERS", "Grant", "auth_page", "authenticate", "register_app", "token_endpoint"]

ACCESS_LIFETIME = 600
REFRESH_NOT_BEFORE = 570
CODE_LIFETIME = 180
REFRESH_LIFETIME = 30 * 86400

# The sandbox's Exact users (both with the password settings.SANDBOX_DEMO_PASSWORD): a second user shows
# that chains are per (user, app): a consent by another user does not revoke the first user's chain.
DEMO_USERS = {
    "demo": {"UserID": "5d2c8f7e-3b1a-4c9e-9f00-0000000000d1", "FullName": "Demo Gebruiker",
             "FirstName": "Demo", "LastName": "Gebruiker", "Email": "demo@example.invalid"},
    "demo2": {"UserID": "5d2c8f7e-3b1a-4c9e-9f00-0000000000d2", "FullName": "Tweede Gebruiker",
              "FirstName": "Tweede", "LastName": "Gebruiker", "Email": "demo2@example.invalid"},
}


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _token(prefix: str, nbytes: int) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def scaled(seconds: float) -> float:
    return clock.seconds(seconds)


# --- apps -----------------------------------------------------------------------------------------

def register_app(name: str, redirect_uri: str, *, scopes: list[str] | None = None,
                 store: Store | None = None) -> dict[str, Any]:
    """Register an app as Exact's app centre does; return its client id and secrets (shown once).

    ``scopes`` are Exact's scope labels (``Crm accounts``, ``Sales orders`` ...); none means every scope.
    """
    store = store or get_store()
    cleaned = [s.strip() for s in scopes or [] if s.strip()]
    app = {
        "client_id": str(uuid.uuid4()),
        "client_secret": secrets.token_urlsafe(12),
        "webhook_secret": secrets.token_urlsafe(12),
        "name": name,
        "redirect_uri": redirect_uri,
        "scopes": cleaned,
    }
    with store.write() as db:
        db.execute(
            "INSERT INTO apps(client_id, name, redirect_uri, client_secret, webhook_secret, created, scopes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (app["client_id"], name, redirect_uri, app["client_secret"], app["webhook_secret"], clock.now(),
             json.dumps(cleaned)),
        )
    return app


def get_app(client_id: str, store: Store | None = None) -> dict[str, Any] | None:
    store = store or get_store()
    row = store.db.execute("SELECT * FROM apps WHERE lower(client_id) = lower(?)", (client_id.strip("{}"),)).fetchone()
    return dict(row) if row else None


# --- the authorize page ---------------------------------------------------------------------------

def _redirect(uri: str, params: dict[str, str]) -> Response:
    sep = "&" if "?" in uri else "?"
    return Response(302, b"", [("Location", uri + sep + urlencode({k: v for k, v in params.items() if v != ""}))])


def _page(template: str, context: dict[str, Any], status: int = 200) -> Response:
    return Response(status, render_to_string(template, context), content_type="text/html; charset=utf-8")


def auth_page(request: Request) -> Response:
    """GET shows the login + consent form; POST checks the demo login and redirects with a code or a refusal."""
    params = request.form() if request.method == "POST" else dict(request.query_items)
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    store = get_store()
    app = get_app(client_id, store) if client_id else None
    if app is None:
        return _page("sandbox/auth_error.html", {"message": f"Client with identifier '{client_id}' not found."}, 400)
    if redirect_uri != app["redirect_uri"]:
        return _page("sandbox/auth_error.html", {"message": "The redirect URI does not match the app's registration."},
                     400)
    if params.get("response_type", "code") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
    divisions = store.divisions()
    context = {"app": app, "params": params, "divisions": divisions, "error": "", "form_token": form_token(request)}
    if request.method != "POST":
        return _page("sandbox/auth.html", context)
    if params.get("action") == "deny":
        monitor.incr("consent_denied")
        return _redirect(redirect_uri, {"error": "access_denied", "state": state})
    username = params.get("username", "")
    password = params.get("password", "")
    if username not in DEMO_USERS or not hmac.compare_digest(password, str(settings.SANDBOX_DEMO_PASSWORD)):
        context["error"] = "The user name or password is incorrect."
        return _page("sandbox/auth.html", context)
    chosen = [int(d) for d in request.form_list("division") if d.isdigit()]
    known = {d["Code"] for d in divisions}
    granted = sorted(d for d in chosen if d in known) or sorted(known)
    code = _token(secrets.token_urlsafe(3)[:4] + "!IAAAA", 180)
    now = clock.now()
    with store.write() as db:
        db.execute(
            "INSERT INTO codes(code_hash, client_id, redirect_uri, user, divisions, created, expires) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_hash(code), app["client_id"], redirect_uri, username, json.dumps(granted), now,
             now + scaled(CODE_LIFETIME)),
        )
    monitor.incr("consents")
    return _redirect(redirect_uri, {"code": code, "state": state})


# --- the token endpoint ---------------------------------------------------------------------------

def _oauth_error(status: int, error: str, description: str, reason: str | None = None) -> Response:
    headers = [("Reason", reason)] if reason else []
    return json_response({"error": error, "error_description": description}, status, headers)


def _fmt_time(ts: float) -> str:
    """Exact's US-style time in refresh-expiry messages: ``10/28/2022 4:15:50 PM``."""
    dt = datetime.fromtimestamp(ts, UTC)
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}"


def _issue(db: Any, chain_id: int, now: float) -> dict[str, str]:
    access = _token("AAEAA", 450)
    refresh = _token(secrets.token_urlsafe(3)[:4] + "!IAAAA", 300)
    db.execute("INSERT INTO tokens(token_hash, kind, chain_id, issued, expires) VALUES (?, 'access', ?, ?, ?)",
               (_hash(access), chain_id, now, now + scaled(ACCESS_LIFETIME)))
    db.execute("INSERT INTO tokens(token_hash, kind, chain_id, issued, expires) VALUES (?, 'refresh', ?, ?, ?)",
               (_hash(refresh), chain_id, now, now + scaled(REFRESH_LIFETIME)))
    db.execute("UPDATE chains SET last_token_at = ? WHERE id = ?", (now, chain_id))
    expires_in = max(round(scaled(ACCESS_LIFETIME)), 1)
    return {"access_token": access, "token_type": "bearer", "expires_in": str(expires_in), "refresh_token": refresh}


def token_endpoint(request: Request) -> Response:
    monitor.incr("token_calls")
    if "json" in request.headers.get("content-type", ""):
        monitor.incr("token_refused")
        return _oauth_error(400, "invalid_request", "The request body must be application/x-www-form-urlencoded.")
    form = request.form()
    grant_type = form.get("grant_type", "")
    store = get_store()
    app = get_app(form.get("client_id", ""), store) if form.get("client_id") else None
    if app is None:
        monitor.incr("token_refused")
        return _oauth_error(400, "invalid_client", f"Client with identifier '{form.get('client_id', '')}' not found.")
    if not hmac.compare_digest(form.get("client_secret", ""), app["client_secret"]):
        monitor.incr("token_refused")
        return _oauth_error(400, "invalid_client", "The client secret is invalid.")
    if not limiter.token_call(app["client_id"]):
        # Exact allows 200 token calls per app per user per day; the exact refusal text is not documented.
        monitor.incr("token_refused")
        monitor.incr("refusal_token_budget")
        return _oauth_error(400, "access_denied", "Rate limit exceeded: too many token requests today "
                            "(the sandbox allows SANDBOX_TOKEN_DAILY_LIMIT per app per day).",
                            reason="TokenRequestLimitExceeded")
    if grant_type == "authorization_code":
        return _exchange_code(store, app, form)
    if grant_type == "refresh_token":
        return _refresh(store, app, form)
    monitor.incr("token_refused")
    return _oauth_error(400, "unsupported_grant_type", f"The grant type '{grant_type}' is not supported.")


def _exchange_code(store: Store, app: dict[str, Any], form: dict[str, str]) -> Response:
    with store.write() as db:
        now = clock.now()  # read after the write lock: a wait for it must not shorten the token's life
        row = db.execute("SELECT * FROM codes WHERE code_hash = ?", (_hash(form.get("code", "")),)).fetchone()
        if row is None or row["client_id"] != app["client_id"]:
            refusal = ("invalid_grant", "The authorization code is invalid.")
        elif row["used_at"] is not None:
            refusal = ("invalid_grant", "The authorization code has already been used.")
        elif row["expires"] < now:
            refusal = ("invalid_grant", "The authorization code has expired.")
        elif row["redirect_uri"] != form.get("redirect_uri", ""):
            refusal = ("invalid_grant", "The redirect URI does not match the authorization request.")
        else:
            refusal = None
        if refusal is None:
            db.execute("UPDATE codes SET used_at = ? WHERE code_hash = ?", (now, row["code_hash"]))
            # A new consent by the same user for the same app kills the previous chain (FIELD-NOTES A6).
            db.execute("UPDATE chains SET revoked_at = ?, revoked_reason = 're-consent' "
                       "WHERE client_id = ? AND user = ? AND revoked_at IS NULL", (now, app["client_id"], row["user"]))
            chain_id = db.execute(
                "INSERT INTO chains(client_id, user, divisions, created, last_token_at) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id", (app["client_id"], row["user"], row["divisions"], now, now)).fetchone()[0]
            body = _issue(db, chain_id, now)
    if refusal is not None:
        monitor.incr("token_refused")
        return _oauth_error(400, *refusal)
    monitor.incr("tokens_issued")
    return json_response(body, 200, [("Cache-Control", "no-store")])


def _refresh(store: Store, app: dict[str, Any], form: dict[str, str]) -> Response:
    token_hash = _hash(form.get("refresh_token", ""))
    refusal: Response | None = None
    with store.write() as db:
        now = clock.now()  # read after the write lock: a wait for it must not shorten the token's life
        row = db.execute(
            "SELECT t.*, c.client_id, c.revoked_at, c.last_token_at FROM tokens t JOIN chains c ON c.id = t.chain_id "
            "WHERE t.token_hash = ? AND t.kind = 'refresh'", (token_hash,)).fetchone()
        if row is None or row["client_id"] != app["client_id"]:
            refusal = _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
            counter = "refusal_invalid_refresh"
        elif row["revoked_at"] is not None:
            refusal = _oauth_error(400, "invalid_grant", "Token is not allowed, because of invalid or empty chainId")
            counter = "refusal_revoked_chain"
        elif row["used_at"] is not None:
            refusal = _oauth_error(401, "unauthorized_client", "Old refresh token used.")
            counter = "refusal_old_refresh_token"
        elif row["expires"] < now:
            refusal = _oauth_error(400, "invalid_request",
                                   f"The refresh token expired at {_fmt_time(row['expires'])} "
                                   f"and it is now {_fmt_time(now)}.")
            counter = "refusal_refresh_expired"
        elif now - row["last_token_at"] < scaled(REFRESH_NOT_BEFORE):
            status = int(getattr(settings, "SANDBOX_TOO_EARLY_STATUS", 400))
            refusal = _oauth_error(status, "access_denied", "Rate limit exceeded: access_token not expired",
                                   reason="TooEarlyToRefreshTokens: Rate limit exceeded: access_token not expired")
            counter = "refusal_too_early"
        else:
            db.execute("UPDATE tokens SET used_at = ? WHERE token_hash = ?", (now, token_hash))
            db.execute("UPDATE chains SET refreshes = refreshes + 1 WHERE id = ?", (row["chain_id"],))
            body = _issue(db, row["chain_id"], now)
    if refusal is not None:
        monitor.incr("token_refused")
        monitor.incr(counter)
        return refusal
    monitor.incr("tokens_refreshed")
    return json_response(body, 200, [("Cache-Control", "no-store")])


# --- bearer checks --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grant:
    """Who is calling: the app, the Exact user, and the divisions the user granted."""

    client_id: str
    user: str
    divisions: tuple[int, ...]
    chain_id: int
    scopes: tuple[str, ...] = ()

    def allows(self, scope: str | None) -> bool:
        """An endpoint's scope label (some name several: "Crm quotes sales orders") against the app's scopes."""
        if not self.scopes or not scope or scope == "-":
            return True
        lowered = scope.lower()
        return any(s.lower() in lowered for s in self.scopes)

    @property
    def current_division(self) -> int:
        return self.divisions[0]


def authenticate(request: Request) -> Grant:
    token = request.bearer()
    if not token:
        raise ApiError(401, "Unauthorized", headers=[www_authenticate("access token missing")])
    store = get_store()
    row = store.db.execute(
        "SELECT t.expires, c.id, c.client_id, c.user, c.divisions, c.revoked_at, a.scopes FROM tokens t "
        "JOIN chains c ON c.id = t.chain_id LEFT JOIN apps a ON a.client_id = c.client_id "
        "WHERE t.token_hash = ? AND t.kind = 'access'", (_hash(token),)).fetchone()
    if row is None or row["revoked_at"] is not None:
        raise ApiError(401, "Unauthorized", headers=[www_authenticate("access token invalid")])
    request.client_id = row["client_id"]
    if row["expires"] < clock.now():
        monitor.incr("expired_access_tokens")
        raise ApiError(401, "Unauthorized", headers=[www_authenticate("access token expired")])
    return Grant(row["client_id"], row["user"], tuple(json.loads(row["divisions"])), row["id"],
                 tuple(json.loads(row["scopes"] or "[]")))


def chains(store: Store | None = None) -> list[dict[str, Any]]:
    """Token chains for the sandbox page (no token material: only hashes are stored anyway)."""
    store = store or get_store()
    rows = store.db.execute(
        "SELECT c.*, a.name AS app_name, (SELECT max(expires) FROM tokens t WHERE t.chain_id = c.id "
        "AND t.kind = 'access') AS access_expires FROM chains c LEFT JOIN apps a ON a.client_id = c.client_id "
        "ORDER BY c.id DESC LIMIT 50").fetchall()
    return [dict(r) for r in rows]
