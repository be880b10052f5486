from __future__ import annotations

from exact_online.transport import REDACTED, redact_body, redact_headers, redact_url

CANARY = "CANARY-9f1c2b7e"


def test_authorization_and_cookies_never_logged():
    out = redact_headers({"Authorization": f"Bearer {CANARY}", "Cookie": "a=b", "Accept": "application/json"})
    assert out == {"Authorization": REDACTED, "Cookie": REDACTED, "Accept": "application/json"}


def test_form_bodies_hide_codes_tokens_and_secrets():
    body = f"grant_type=refresh_token&refresh_token={CANARY}&client_id=abc&client_secret={CANARY}x&code={CANARY}"
    out = redact_body(body)
    assert CANARY not in out
    assert "client_id=abc" in out and "grant_type=refresh_token" in out


def test_json_bodies_hide_token_fields_at_any_depth_but_keep_exact_codes():
    body = {"access_token": CANARY, "nested": [{"refresh_token": CANARY}], "Code": "  1234", "webhook_secret": CANARY}
    out = redact_body(body)
    assert CANARY not in out
    assert "1234" in out  # an account Code is data, not a secret


def test_known_secret_values_are_replaced_anywhere():
    out = redact_body(f"<html>echo {CANARY}</html>", [CANARY])
    assert CANARY not in out and REDACTED in out


def test_query_strings_are_redacted():
    assert CANARY not in redact_url(f"https://x/cb?code={CANARY}&state=s&$top=5")
    assert "%24top=5" in redact_url("https://x/api?$top=5&code=1") or "$top=5" in redact_url("https://x/api?$top=5")


def test_long_bodies_are_cut():
    assert len(redact_body("x" * 50_000)) < 11_000
