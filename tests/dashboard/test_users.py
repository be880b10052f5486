import pytest
from django.contrib.auth import get_user_model

from dashboard.roles import Role, role_of


@pytest.mark.django_db
def test_admin_creates_a_user_with_a_role(admin_client):
    response = admin_client.post(
        "/users/create/",
        {"username": "newbie", "email": "n@example.com", "password": "a-long-unusual-pass-42", "role": "Editor"},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert role_of(user) == Role.EDITOR


@pytest.mark.django_db
def test_weak_password_and_duplicate_username_are_refused(admin_client, editor_user):
    response = admin_client.post(
        "/users/create/", {"username": editor_user.username, "password": "123", "role": "Viewer"}
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "already exists" in content
    assert "too short" in content


@pytest.mark.django_db
def test_admin_changes_a_role_but_not_their_own(admin_client, admin_user, viewer_user):
    admin_client.post(f"/users/{viewer_user.pk}/role/", {"role": "Editor"})
    assert role_of(get_user_model().objects.get(pk=viewer_user.pk)) == Role.EDITOR
    response = admin_client.post(f"/users/{admin_user.pk}/role/", {"role": "Viewer"}, follow=True)
    assert "cannot take the Administrator role away" in response.content.decode()
    assert role_of(get_user_model().objects.get(pk=admin_user.pk)) == Role.ADMINISTRATOR


@pytest.mark.django_db
def test_roles_exist_as_groups():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"Administrator", "Editor", "Viewer"}


@pytest.mark.django_db(transaction=True)
def test_roles_come_back_after_a_flush():
    """A transactional test flushes the database; the roles must be there for the tests after it (also under
    pytest-xdist, where a file's transactional tests can run before another file's)."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {"Administrator", "Editor", "Viewer"}
