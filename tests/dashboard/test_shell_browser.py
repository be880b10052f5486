"""Each role signs in through the real login page and sees the shell with its own navigation."""

import pytest

from tests.fixtures.browser import login_as, screenshot

EXPECTED_ADMIN_ONLY = {"Users"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", ["admin_user", "editor_user", "viewer_user"])
def test_role_signs_in_and_sees_the_shell(request, browser_page, live_server, persona):
    user = request.getfixturevalue(persona)
    page = browser_page
    login_as(page, live_server.url, user.username)
    assert page.locator("h1").first.inner_text() == "Dashboard"
    role = page.locator("[data-testid=role]").inner_text()
    assert role == {"admin_user": "Administrator", "editor_user": "Editor", "viewer_user": "Viewer"}[persona]
    nav = set(page.locator("nav.sidenav li a").all_inner_texts())
    assert "Dashboard" in nav
    if persona == "admin_user":
        assert nav >= EXPECTED_ADMIN_ONLY
    else:
        assert not (nav & EXPECTED_ADMIN_ONLY)
    assert screenshot(page, f"shell-{role.lower()}").stat().st_size > 5_000


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused_with_a_message(browser_page, live_server, viewer_user):
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", viewer_user.username)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "not correct" in page.content()
    assert page.url.endswith("/accounts/login/")
