"""User lifecycle: deactivate (sessions end), reactivate, password reset, roles that really change superusers,
the last active Administrator, the demo password that must be changed, bootstrap in production."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings

from audit.models import AuditEntry
from dashboard.roles import Role, role_of
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def _fresh(user):
    return User.objects.get(pk=user.pk)


def test_deactivating_ends_the_sessions_at_once_and_reactivating_lets_them_back(admin_client, editor_user):
    editor = Client()
    assert editor.post("/accounts/login/", {"login": editor_user.username, "password": PASSWORD}).status_code == 302
    assert editor.get("/").status_code == 200
    response = admin_client.post(f"/users/{editor_user.pk}/deactivate/", follow=True)
    assert "1 session(s) ended" in response.content.decode()
    assert editor.get("/").url.startswith("/accounts/login/")
    again = editor.post("/accounts/login/", {"login": editor_user.username, "password": PASSWORD})
    assert again.url == "/accounts/inactive/" and editor.get("/").url.startswith("/accounts/login/")
    admin_client.post(f"/users/{editor_user.pk}/reactivate/")
    assert _fresh(editor_user).is_active
    actions = set(AuditEntry.objects.filter(object_id=str(editor_user.pk)).values_list("action", flat=True))
    assert {"deactivate", "reactivate"} <= actions


def test_a_superuser_made_viewer_is_a_viewer_and_the_last_administrator_stays(admin_client, admin_user):
    boss = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    admin_client.post(f"/users/{boss.pk}/role/", {"role": "Viewer"})
    boss = _fresh(boss)
    assert not boss.is_superuser and role_of(boss) == Role.VIEWER
    assert AuditEntry.objects.get(action="role", object_id=str(boss.pk)).changes == {"role": ["Administrator",
                                                                                              "Viewer"]}


def test_the_last_active_administrator_cannot_be_demoted_or_deactivated(admin_user, django_user_model):
    from dashboard.lifecycle import LifecycleRefused, deactivate, set_role

    with pytest.raises(LifecycleRefused, match="last active Administrator"):
        set_role(admin_user, "Editor")
    with pytest.raises(LifecycleRefused, match="last active Administrator"):
        deactivate(admin_user)
    assert role_of(_fresh(admin_user)) == Role.ADMINISTRATOR and _fresh(admin_user).is_active
    second = django_user_model.objects.create_user("second-admin", "s@example.com", PASSWORD)
    set_role(second, "Administrator")
    set_role(admin_user, "Editor")
    assert role_of(_fresh(admin_user)) == Role.EDITOR


def test_password_reset_mails_a_link(admin_client, editor_user):
    response = admin_client.post(f"/users/{editor_user.pk}/password-reset/", follow=True)
    assert "password reset link was sent" in response.content.decode()
    assert len(mail.outbox) == 1 and editor_user.email in mail.outbox[0].to
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    assert AuditEntry.objects.filter(action="password_reset", object_id=str(editor_user.pk)).exists()


def test_the_demo_admin_must_change_its_password_first(client):
    call_command("bootstrap", stdout=StringIO())
    client.post("/accounts/login/", {"login": "admin", "password": "admin"})
    response = client.get("/connections/routes/")
    assert response.status_code == 302 and response.url == "/accounts/password/change/"
    response = client.post("/accounts/password/change/", {"oldpassword": "admin", "password1": "a-new-long-pass-9",
                                                          "password2": "a-new-long-pass-9"})
    assert response.status_code == 302
    assert client.get("/connections/routes/").status_code == 200
    change = AuditEntry.objects.filter(object_type="auth.user", action="update").last()
    assert change.changes == {"password": "changed"}


@override_settings(PRODUCTION=True)
def test_bootstrap_refuses_the_demo_admin_in_production():
    err = StringIO()
    call_command("bootstrap", stdout=StringIO(), stderr=err)
    assert not User.objects.filter(username="admin").exists()
    assert "DASH_ENV=production" in err.getvalue()
