"""allauth's pages in our shell: login, logout, password change/reset (console email), TOTP two-factor."""

import pytest
from django.core import mail


@pytest.mark.django_db
def test_login_page_is_public_and_has_no_signup(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Exact Dash" in response.content
    signup = client.get("/accounts/signup/")
    assert b"Sign Up Closed" in signup.content


@pytest.mark.django_db
def test_login_then_logout_by_post(client, viewer_user):
    response = client.post(
        "/accounts/login/", {"login": viewer_user.username, "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_password_reset_sends_an_email(client, viewer_user):
    response = client.post("/accounts/password/reset/", {"email": viewer_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


@pytest.mark.django_db
def test_password_change_works_for_a_signed_in_user(viewer_client, viewer_user):
    response = viewer_client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "correct-horse-battery-staple",
            "password1": "another-long-pass-77",
            "password2": "another-long-pass-77",
        },
    )
    assert response.status_code == 302
    viewer_user.refresh_from_db()
    assert viewer_user.check_password("another-long-pass-77")


@pytest.mark.django_db
def test_two_factor_totp_can_be_set_up(client, viewer_user):
    client.post("/accounts/login/", {"login": viewer_user.username, "password": "correct-horse-battery-staple"})
    viewer_client = client
    index = viewer_client.get("/accounts/2fa/")
    assert index.status_code == 200
    activate = viewer_client.get("/accounts/2fa/totp/activate/")
    if activate.status_code == 302 and "reauthenticate" in activate["Location"]:
        viewer_client.post(activate["Location"], {"password": "correct-horse-battery-staple"})
        activate = viewer_client.get("/accounts/2fa/totp/activate/")
    assert activate.status_code == 200
    assert b"otpauth" in activate.content or b"secret" in activate.content.lower()


@pytest.mark.django_db
def test_sign_in_and_sign_up_closed_pages_are_styled_without_a_dead_sign_up_link(client):
    login = client.get("/accounts/login/").content.decode()
    assert 'class="auth-card"' in login and "favicon.svg" in login
    assert "/accounts/signup/" not in login and "sign up" not in login.lower()
    closed = client.get("/accounts/signup/").content.decode()
    assert 'class="auth-card"' in closed and 'href="/accounts/login/"' in closed


@pytest.mark.django_db
def test_log_pages_highlight_one_navigation_item(admin_client):
    page = admin_client.get("/clients/logs/auth/").content.decode()
    assert page.count('aria-current="page"') == 1
    assert 'href="/clients/logs/auth/" class="active" aria-current="page"' in page
