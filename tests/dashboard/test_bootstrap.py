from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.roles import Role, role_of


@pytest.mark.django_db
def test_bootstrap_creates_a_demo_admin_once_and_prints_the_login():
    out = StringIO()
    call_command("bootstrap", stdout=out)
    admin = get_user_model().objects.get(username="admin")
    assert role_of(admin) == Role.ADMINISTRATOR
    assert "username 'admin', password 'admin'" in out.getvalue()
    out = StringIO()
    call_command("bootstrap", stdout=out)
    assert get_user_model().objects.count() == 1
    assert "no demo administrator created" in out.getvalue()
