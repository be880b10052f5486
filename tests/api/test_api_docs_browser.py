"""In a real browser: an Editor makes a token on the API tokens page, opens the API docs (Swagger UI from the
product's own static files, under its Content Security Policy), authorises with the token and calls an
operation from the page."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import login_as, screenshot, wait_for_js


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_token_made_on_the_page_works_from_the_docs_page(browser_page, live_server, editor_user):
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((live_server.url, "data:")) else None)
    login_as(page, live_server.url, editor_user.username)
    page.click("text=API tokens")
    page.fill("input[name=name]", "docs")
    page.click("button:has-text('Create token')")
    token = page.locator("[data-testid=token-value]").inner_text().strip()
    assert token.startswith("xd_")
    page.click("text=API documentation")
    wait_for_js(page, "document.querySelectorAll('.opblock').length > 20")
    page.click("button.authorize")
    page.fill(".modal-ux input[type=text]", token)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done")
    operation = page.locator(".opblock", has_text="/api/v1/me").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    operation.locator(".live-responses-table tbody .response-col_status").first.wait_for()
    assert operation.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip() == "200"
    assert editor_user.username in operation.locator(".live-responses-table tbody .microlight").first.inner_text()
    screenshot(page, "api-docs")
    assert not outside, outside
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
