"""A person at the sandbox: register an app on its page, then sign in and approve with the keyboard."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.fixtures.browser import screenshot

pytestmark = pytest.mark.browser


def test_register_on_the_page_and_approve_with_the_keyboard(sandbox, browser_page) -> None:
    page = browser_page
    page.goto(f"{sandbox.url}/")
    page.fill("#app-name", "Browser app")
    page.fill("#app-redirect", "http://127.0.0.1:9/callback")
    page.click("button:has-text('Register app')")
    page.wait_for_selector("text=New app: Browser app")
    client_id = page.locator("th:has-text('Client ID') + td code").inner_text()
    screenshot(page, "sandbox-registered-app")

    redirects: list[str] = []
    page.route("http://127.0.0.1:9/**", lambda route: (redirects.append(route.request.url),
                                                      route.fulfill(status=200, body="back in the app")))
    page.goto(f"{sandbox.url}/api/oauth2/auth?client_id={client_id}&redirect_uri=http://127.0.0.1:9/callback"
              "&response_type=code&state=browser-state")
    page.fill("#username", "demo")
    page.fill("#password", "demo")
    screenshot(page, "sandbox-consent")
    page.press("#password", "Enter")  # Enter submits the first button: Approve
    page.wait_for_selector("text=back in the app")
    query = parse_qs(urlparse(redirects[-1]).query)
    assert query["state"] == ["browser-state"]
    assert "!" in query["code"][0]
