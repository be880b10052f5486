"""An administrator deactivates a user who is signed in: that user's next request lands on the login page."""

import pytest

from tests.fixtures.browser import login_as


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_deactivated_user_is_signed_out_at_once(chromium, browser_page, live_server, admin_user, editor_user):
    editor_context = chromium.new_context(viewport={"width": 1366, "height": 900})
    try:
        editor = editor_context.new_page()
        login_as(editor, live_server.url, editor_user.username)
        editor.goto(f"{live_server.url}/connections/routes/")
        assert editor.locator("h1").first.inner_text() == "Routes"

        admin = browser_page
        login_as(admin, live_server.url, admin_user.username)
        admin.goto(f"{live_server.url}/users/")
        admin.once("dialog", lambda dialog: dialog.accept())  # "Deactivate eddie-editor? ..."
        admin.click(f"button[aria-label='Deactivate {editor_user.username}']")
        assert "is deactivated; 1 session(s) ended" in admin.locator(".messages").inner_text()

        editor.goto(f"{live_server.url}/connections/routes/")
        assert "/accounts/login/" in editor.url
        assert editor.locator("input[name=password]").is_visible()
    finally:
        editor_context.close()
