"""The sandbox attacked the way a stranger on the network or a web page in the user's browser would (issue 10, 8).

Requests go over real HTTP to the session sandbox: a foreign Host header (DNS rebinding), the control API
without its token or with a body a cross-site form can send, form posts without the page's CSRF token or
from another site, a catastrophic fault-rule regex and an unbounded generate count.
"""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import CommandError, call_command

from sandbox.guard import _host_name


def _app_names(sandbox) -> list[str]:
    page = requests.get(f"{sandbox.url}/", timeout=10)
    return [line for line in page.text.splitlines() if "<td>" in line]


def test_a_foreign_host_header_is_refused_everywhere(sandbox) -> None:
    for path in ("/", "/sandbox/api/counters", "/api/v1/current/Me", "/api/oauth2/auth"):
        response = requests.get(f"{sandbox.url}{path}", headers={"Host": "rebind.attacker.example:8001",
                                                                  **sandbox.control_headers}, timeout=10)
        assert response.status_code == 400, path
        assert "SANDBOX_ALLOWED_HOSTS" in response.text
    assert requests.get(f"{sandbox.url}/", headers={"Host": "localhost"}, timeout=10).status_code == 200


@pytest.mark.parametrize(("host", "name"), [("127.0.0.1:8001", "127.0.0.1"), ("[::1]:8001", "[::1]"),
                                            ("Sandbox", "sandbox"), ("", "")])
def test_host_names_are_read_without_their_port(host: str, name: str) -> None:
    assert _host_name(host) == name


def test_the_control_api_wants_its_token(sandbox, exact) -> None:
    exact.get("current/Me")
    offset = sandbox.advance_clock(0)["offset"]
    for method, path, body in [("POST", "reset", {"keep_apps": False}), ("POST", "clock", {"advance": 10**9}),
                               ("POST", "faults", {"rules": [{"error_rate": 1}]}), ("DELETE", "counters", None),
                               ("POST", "generate", {"entity": "Accounts", "count": 10, "division": 101001}),
                               ("POST", "apps", {"name": "x", "redirect_uri": "http://x/cb"}),
                               ("GET", "requests", None), ("POST", "shop/keys", {"name": "x"}),
                               ("POST", "shop/reset", {"keep_keys": False}), ("GET", "shop/keys", None)]:
        for headers in ({}, {"X-Sandbox-Token": "guessed"}, {"X-Sandbox-Token": ""}):
            response = requests.request(method, f"{sandbox.url}/sandbox/api/{path}", json=body, headers=headers,
                                        timeout=10)
            assert response.status_code == 401, (method, path, headers)
            assert "X-Sandbox-Token" in response.json()["error"]
    assert sandbox.set_faults() == []  # nothing was injected
    assert sandbox.advance_clock(0)["offset"] == offset
    assert sandbox.requests_log()  # the log and counters were not cleared
    assert requests.get(f"{sandbox.url}/sandbox/api/health", timeout=10).json()["ok"] is True  # health stays open


def test_the_control_api_refuses_bodies_that_are_not_json_objects(sandbox) -> None:
    url = f"{sandbox.url}/sandbox/api/faults"
    as_form = requests.post(url, data='{"rules": [{"error_rate": 1}]}', timeout=10,
                            headers={**sandbox.control_headers, "Content-Type": "text/plain"})
    assert as_form.status_code == 415
    urlencoded = requests.post(url, data={"rules": "x"}, headers=sandbox.control_headers, timeout=10)
    assert urlencoded.status_code == 415
    a_list = requests.post(url, json=[1, 2], headers=sandbox.control_headers, timeout=10)
    assert a_list.status_code == 400 and "JSON object" in a_list.json()["error"]
    assert sandbox.set_faults() == []


def test_forms_without_the_pages_token_are_refused(sandbox) -> None:
    forged = requests.post(f"{sandbox.url}/sandbox/apps", data={"name": "Forged app", "redirect_uri": "http://x/cb"},
                           timeout=10)
    assert forged.status_code == 403
    assert "reload the page" in forged.text
    stale = requests.Session()
    stale.cookies.set("sandbox_csrf", "a" * 43)
    mismatched = stale.post(f"{sandbox.url}/sandbox/reset", data={"keep_apps": "on", "csrf_token": "b" * 43},
                            allow_redirects=False, timeout=10)
    assert mismatched.status_code == 403
    consent = requests.post(f"{sandbox.url}/api/oauth2/auth", allow_redirects=False, timeout=10, data={
        "client_id": "x", "redirect_uri": "http://x/cb", "username": "demo", "password": "demo", "action": "approve"})
    assert consent.status_code == 403
    assert not any("Forged app" in line for line in _app_names(sandbox))
    shop_key = requests.post(f"{sandbox.url}/shop/keys", data={"name": "Forged key"}, timeout=10)
    assert shop_key.status_code == 403
    assert "Forged key" not in requests.get(f"{sandbox.url}/shop/", timeout=10).text


def test_a_form_sent_from_another_site_is_refused_even_with_the_token(sandbox) -> None:
    browser = requests.Session()
    token = sandbox.form_token(browser)
    cross_site = browser.post(f"{sandbox.url}/sandbox/apps", headers={"Origin": "https://attacker.example"},
                              data={"name": "Cross-site app", "redirect_uri": "http://x/cb", "csrf_token": token},
                              timeout=10)
    assert cross_site.status_code == 403
    same_site = browser.post(f"{sandbox.url}/sandbox/apps", headers={"Origin": sandbox.url},
                             data={"name": "Same-site app", "redirect_uri": "http://x/cb", "csrf_token": token},
                             timeout=10)
    assert same_site.status_code == 201
    names = "\n".join(_app_names(sandbox))
    assert "Same-site app" in names and "Cross-site app" not in names


def test_the_page_sets_its_csrf_cookie_once(sandbox) -> None:
    browser = requests.Session()
    first = browser.get(f"{sandbox.url}/", timeout=10)
    cookie = first.cookies.get("sandbox_csrf")
    assert cookie and f'value="{cookie}"' in first.text
    assert "HttpOnly" in first.headers["Set-Cookie"] and "SameSite=Lax" in first.headers["Set-Cookie"]
    again = browser.get(f"{sandbox.url}/", timeout=10)
    assert "Set-Cookie" not in again.headers and f'value="{cookie}"' in again.text


def test_a_catastrophic_fault_pattern_cannot_hang_the_sandbox(sandbox, exact) -> None:
    try:
        sandbox.set_faults({"path": "^/api/v1/(a+)+$", "error_rate": 1, "error_status": 503})
        # Python's backtracking engine needs ~2^40 steps for this path; RE2 answers in linear time.
        response = exact.get(f"{sandbox.url}/api/v1/{'a' * 40}!")
        assert response.status_code != 503
        assert exact.get(f"{sandbox.url}/api/v1/{'a' * 40}").status_code == 503  # the rule still works
    finally:
        sandbox.clear_faults()
    refused = requests.post(f"{sandbox.url}/sandbox/api/faults", headers=sandbox.control_headers, timeout=10,
                            json={"rules": [{"path": r"(a)\1", "error_rate": 1}]})
    assert refused.status_code == 400 and "RE2" in refused.json()["error"]
    too_long = requests.post(f"{sandbox.url}/sandbox/api/faults", headers=sandbox.control_headers, timeout=10,
                             json={"rules": [{"path": "a" * 501, "error_rate": 1}]})
    assert too_long.status_code == 400


@pytest.mark.parametrize("count", [10**9, 0, -5, "many"])
def test_generate_counts_are_bounded(sandbox, count) -> None:
    for path, body in [("generate", {"entity": "Accounts", "count": count, "division": sandbox.divisions[0]}),
                       ("shop/generate", {"count": count})]:
        response = requests.post(f"{sandbox.url}/sandbox/api/{path}", headers=sandbox.control_headers, timeout=10,
                                 json=body)
        assert response.status_code == 400, path
        assert "count" in response.json()["error"] or "invalid literal" in response.json()["error"]


def test_runsandbox_refuses_to_start_without_a_control_token(settings) -> None:
    settings.SANDBOX_CONTROL_TOKEN = ""
    with pytest.raises(CommandError, match="SANDBOX_CONTROL_TOKEN"):
        call_command("runsandbox", "--port", "0", stdout=io.StringIO())
