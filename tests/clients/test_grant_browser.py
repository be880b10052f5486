"""The whole grant in a real browser: create a client at the sandbox, grant access, approve, see the divisions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import HttpClient
from tests.fixtures.browser import login_as, screenshot


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_grant_access_to_exact_online_in_the_browser(browser_page, live_server, admin_user, sandbox, settings):
    settings.SITE_URL = live_server.url
    callback = live_server.url + reverse("clients:oauth_callback")
    app = sandbox.register_app("Exact Dash browser test", callback)
    page = browser_page
    login_as(page, live_server.url, admin_user.username)

    page.goto(live_server.url + reverse("clients:create"))
    page.fill("#id_name", "Sandbox via the browser")
    page.select_option("#id_base_uri", "custom")
    page.fill("#id_custom_base_uri", sandbox.url)
    page.fill("#id_client_id", app["client_id"])
    page.fill("#id_client_secret", app["client_secret"])
    assert page.input_value("[data-testid=redirect-uri]") == callback
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=HTTP client “Sandbox via the browser” created.")

    page.click("text=Grant access to Exact Online")
    page.wait_for_url(sandbox.url + "/api/oauth2/auth*")
    page.fill("#username", "demo")
    page.fill("#password", "demo")
    page.click("button[value=approve]")

    page.wait_for_selector("[data-testid=access-granted]")
    screenshot(page, "clients-grant-access")
    assert page.url.startswith(live_server.url + "/clients/")
    assert "Access granted as Exact user Demo Gebruiker: 2 divisions available." in page.inner_text("#messages")
    assert "Demo Gebruiker" in page.inner_text("[data-testid=exact-user]")
    divisions = page.inner_text("[data-testid=divisions]")
    assert "Demo Handel B.V." in divisions and "Demo Services B.V." in divisions
    assert page.input_value("[data-testid=division-select]") == "101001"
    client = HttpClient.objects.get(name="Sandbox via the browser")
    assert client.status == HttpClient.Status.GRANTED and client.grant.granted_by == admin_user
