"""Personal API tokens: made on the user's page and shown once, stored as a digest, revoked there; a revoked,
expired or unknown token (or a deactivated user's) gets 401; every token has its own rate budget."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from api.models import ApiToken
from api.v1 import api

from .conftest import ApiClient


def test_a_token_is_made_on_the_users_page_shown_once_and_stored_only_as_a_digest(viewer_client, viewer_user):
    response = viewer_client.post("/account/api-tokens/", {"name": "CI", "days": "30"})
    assert response.status_code == 200
    text = response.context["new_token"]
    assert text.startswith("xd_") and text in response.content.decode()
    row = ApiToken.objects.get(user=viewer_user)
    assert row.digest != text and text not in str(vars(row)) and row.prefix == text[:10]
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    again = viewer_client.get("/account/api-tokens/").content.decode()
    assert text not in again and row.prefix in again  # listed by its first characters, never shown again
    me = ApiClient(text).call("GET", "/api/v1/me").json()
    assert me == {"username": viewer_user.username, "role": "Viewer", "token_name": "CI",
                  "token_expires_at": me["token_expires_at"]}


def test_revoking_on_the_page_stops_the_token_at_once(editor_client, editor_user):
    row, text = ApiToken.issue(editor_user, name="script", days=7)
    caller = ApiClient(text)
    assert caller.call("GET", "/api/v1/me").status_code == 200
    assert editor_client.post(f"/account/api-tokens/{row.pk}/revoke/").status_code == 302
    response = caller.call("GET", "/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json" and response["WWW-Authenticate"].startswith("Bearer")


def test_expired_unknown_missing_and_deactivated_tokens_get_401(editor_user):
    row, text = ApiToken.issue(editor_user, name="old", days=7)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ApiClient(text).call("GET", "/api/v1/routes").status_code == 401
    assert ApiClient("xd_" + "a" * 43).call("GET", "/api/v1/routes").status_code == 401
    assert ApiClient(None).call("GET", "/api/v1/routes").status_code == 401
    _, fresh = ApiToken.issue(editor_user, name="new", days=7)
    editor_user.is_active = False
    editor_user.save()
    assert ApiClient(fresh).call("GET", "/api/v1/routes").status_code == 401


def test_nobody_revokes_another_users_token(viewer_client, editor_user):
    row, text = ApiToken.issue(editor_user, name="theirs", days=7)
    assert viewer_client.post(f"/account/api-tokens/{row.pk}/revoke/").status_code == 404
    assert ApiClient(text).call("GET", "/api/v1/me").status_code == 200


def test_the_session_does_not_open_the_api(admin_client):
    """Only tokens do: a signed-in browser tab cannot be tricked into API writes (no CSRF surface)."""
    assert admin_client.get("/api/v1/me").status_code == 401


def test_each_token_has_its_own_rate_budget(editor_user, monkeypatch):
    throttle = api.throttle[0]
    monkeypatch.setattr(throttle, "num_requests", 2)
    first = ApiClient(ApiToken.issue(editor_user, name="a", days=7)[1])
    other = ApiClient(ApiToken.issue(editor_user, name="b", days=7)[1])
    assert [first.call("GET", "/api/v1/me").status_code for _ in range(3)] == [200, 200, 429]
    limited = first.call("GET", "/api/v1/me")
    assert limited["Content-Type"] == "application/problem+json" and int(limited["Retry-After"]) >= 1
    assert other.call("GET", "/api/v1/me").status_code == 200
