"""OAuth like Exact's (API.md §2): login + consent, single-use codes, token fields, re-consent, division access."""

from __future__ import annotations

import requests

REDIRECT = "https://app.example.test/exact/callback"


def _token_request(sandbox, app, **form):
    return requests.post(f"{sandbox.url}/api/oauth2/token", data={
        "client_id": app["client_id"], "client_secret": app["client_secret"], **form}, timeout=10)


def test_authorize_token_me(sandbox) -> None:
    app = sandbox.register_app("oauth flow", REDIRECT)
    page = requests.get(f"{sandbox.url}/api/oauth2/auth", params={
        "client_id": app["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "state": "st-1"}, timeout=10)
    assert page.status_code == 200
    assert "Approve" in page.text and "Deny" in page.text and "oauth flow" in page.text

    code = sandbox.authorize(app["client_id"], REDIRECT, state="st-1")
    assert "!" in code  # Exact's codes carry a "!" that arrives URL-encoded as %21
    response = _token_request(sandbox, app, code=code, redirect_uri=REDIRECT, grant_type="authorization_code")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["expires_in"] == "600"  # a string, as Exact sends it
    assert body["token_type"].lower() == "bearer"
    assert len(body["access_token"]) > 500  # Exact's tokens are long (FIELD-NOTES A7)

    me = requests.get(f"{sandbox.url}/api/v1/current/Me", headers={
        "Authorization": f"Bearer {body['access_token']}", "Accept": "application/json"}, timeout=10)
    assert me.status_code == 200
    assert me.headers["Content-Type"].startswith("application/json")
    results = me.json()["d"]["results"]
    assert len(results) == 1
    assert results[0]["CurrentDivision"] == sandbox.divisions[0]
    assert results[0]["__metadata"]["type"] == "Exact.Web.Api.Models.System.Me"
    assert me.headers["X-RateLimit-Minutely-Limit"] == "60"

    # The code is single-use.
    again = _token_request(sandbox, app, code=code, redirect_uri=REDIRECT, grant_type="authorization_code")
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_deny_wrong_password_and_unknown_client(sandbox) -> None:
    app = sandbox.register_app("deny", REDIRECT)
    assert sandbox.authorize(app["client_id"], REDIRECT, approve=False, state="s2") == "access_denied"
    browser = requests.Session()
    wrong = browser.post(f"{sandbox.url}/api/oauth2/auth", data={
        "client_id": app["client_id"], "redirect_uri": REDIRECT, "username": "demo", "password": "nope",
        "action": "approve", "csrf_token": sandbox.form_token(browser)}, allow_redirects=False, timeout=10)
    assert wrong.status_code == 200
    assert "incorrect" in wrong.text
    unknown = requests.get(f"{sandbox.url}/api/oauth2/auth", params={
        "client_id": "00000000-0000-0000-0000-000000000000", "redirect_uri": REDIRECT}, timeout=10)
    assert unknown.status_code == 400
    mismatch = requests.get(f"{sandbox.url}/api/oauth2/auth", params={
        "client_id": app["client_id"], "redirect_uri": "https://evil.example/cb"}, timeout=10)
    assert mismatch.status_code == 400
    bad_secret = requests.post(f"{sandbox.url}/api/oauth2/token", data={
        "client_id": app["client_id"], "client_secret": "wrong", "grant_type": "authorization_code", "code": "x",
        "redirect_uri": REDIRECT}, timeout=10)
    assert bad_secret.status_code == 400
    assert bad_secret.json()["error"] == "invalid_client"


def test_reconsent_kills_the_previous_chain(sandbox) -> None:
    app = sandbox.register_app("reconsent", REDIRECT)
    first = sandbox.token(app, sandbox.authorize(app["client_id"], REDIRECT))
    second = sandbox.token(app, sandbox.authorize(app["client_id"], REDIRECT))
    headers = {"Accept": "application/json"}
    old = requests.get(f"{sandbox.url}/api/v1/current/Me", timeout=10,
                       headers={**headers, "Authorization": f"Bearer {first['access_token']}"})
    assert old.status_code == 401
    assert "WWW-Authenticate" in old.headers
    new = requests.get(f"{sandbox.url}/api/v1/current/Me", timeout=10,
                       headers={**headers, "Authorization": f"Bearer {second['access_token']}"})
    assert new.status_code == 200
    sandbox.advance_clock(0)  # the refusal below comes from the revoked chain, not from timing
    refused = _token_request(sandbox, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_chains_are_per_user(sandbox) -> None:
    app = sandbox.register_app("two users", REDIRECT)
    first = sandbox.token(app, sandbox.authorize(app["client_id"], REDIRECT, user="demo"))
    second = sandbox.token(app, sandbox.authorize(app["client_id"], REDIRECT, user="demo2"))
    for token, name in ((first, "Demo Gebruiker"), (second, "Tweede Gebruiker")):
        me = requests.get(f"{sandbox.url}/api/v1/current/Me", timeout=10, headers={
            "Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})
        assert me.status_code == 200  # another user's consent leaves this user's chain alive
        assert me.json()["d"]["results"][0]["FullName"] == name


def test_division_access_follows_the_grant(sandbox) -> None:
    first, second = sandbox.divisions
    _app, token = sandbox.connect("one division", REDIRECT, divisions=[second])
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    me = requests.get(f"{sandbox.url}/api/v1/current/Me", headers=headers, timeout=10).json()["d"]["results"][0]
    assert me["CurrentDivision"] == second
    allowed = requests.get(f"{sandbox.url}/api/v1/{second}/crm/Accounts?$select=ID&$top=1", headers=headers, timeout=10)
    assert allowed.status_code == 200
    denied = requests.get(f"{sandbox.url}/api/v1/{first}/crm/Accounts?$select=ID&$top=1", headers=headers, timeout=10)
    assert denied.status_code == 403
    assert denied.json() == {"error": {"code": "", "message": {"lang": "", "value": "Forbidden - WrongDivision"}}}
    divisions = requests.get(f"{sandbox.url}/api/v1/{second}/system/Divisions", headers=headers, timeout=10)
    assert [d["Code"] for d in divisions.json()["d"]["results"]] == [second]
    hrm = requests.get(f"{sandbox.url}/api/v1/{second}/HRM/Divisions?$select=Code,Description", headers=headers,
                       timeout=10)
    assert hrm.status_code == 200
    assert set(hrm.json()["d"]["results"][0]) == {"__metadata", "Code", "Description"}


def test_no_or_bad_bearer_is_401(sandbox) -> None:
    division = sandbox.divisions[0]
    assert requests.get(f"{sandbox.url}/api/v1/{division}/crm/Accounts", timeout=10).status_code == 401
    bad = requests.get(f"{sandbox.url}/api/v1/{division}/crm/Accounts", timeout=10,
                       headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.json()["error"]["message"]["value"]


def test_token_budget_and_strict_accept(sandbox_factory) -> None:
    box = sandbox_factory(SANDBOX_STRICT_ACCEPT="true")
    box.set_limits(token_daily=2)
    app, token = box.connect("budget", REDIRECT)  # token call 1
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{box.url}/api/v1/current/Me", headers=bearer, timeout=10).status_code == 406
    assert requests.get(f"{box.url}/api/v1/current/Me", timeout=10,
                        headers={**bearer, "Accept": "application/json"}).status_code == 200
    assert requests.get(f"{box.url}/api/v1/current/Me?$format=json", headers=bearer, timeout=10).status_code == 200
    second = _token_request(box, app, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert second.json()["error"] == "access_denied"  # call 2: too early, but counted
    third = _token_request(box, app, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert third.status_code == 400
    assert third.headers["Reason"] == "TokenRequestLimitExceeded"
    counters = box.counters()
    assert counters["token_calls"] == 3
    assert counters["refresh_refusals"]["token_budget"] == 1


def test_app_scopes_are_enforced(sandbox) -> None:
    app = sandbox.register_app("crm only", REDIRECT, scopes=["Crm accounts"])
    token = sandbox.token(app, sandbox.authorize(app["client_id"], REDIRECT))
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    base = f"{sandbox.url}/api/v1/{sandbox.divisions[0]}"
    assert requests.get(f"{base}/crm/Accounts?$select=ID&$top=1", headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{base}/sync/CRM/Accounts?$select=ID&$top=1", headers=headers, timeout=10).status_code == 200
    items = requests.get(f"{base}/logistics/Items?$select=ID&$top=1", headers=headers, timeout=10)
    assert items.status_code == 403
    assert items.json()["error"]["message"]["value"] == "Forbidden - Application Scope Violated. Cannot read"
    order = requests.post(f"{base}/salesorder/SalesOrders", json={}, headers=headers, timeout=10)
    assert order.status_code == 403
    assert order.json()["error"]["message"]["value"].endswith("Cannot write")
