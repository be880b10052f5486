"""In the browser: create an Incoming for Accounts, Fetch sample, save, run it and see the run with its counts."""

from __future__ import annotations

import re

import pytest

from connections.models import Incoming, Run
from tests.fixtures.browser import login_as, screenshot, wait_for_js
from tests.fixtures.sandbox import grant_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


def test_create_sample_save_run_and_see_counts(browser_page, live_server, editor_user, big_sandbox, eager_celery):
    client = grant_client(big_sandbox, name="Sandbox client")
    page = browser_page
    login_as(page, live_server.url, editor_user.username)
    page.goto(f"{live_server.url}/connections/incoming/create/")
    page.fill("#id_name", "Accounts from Exact")
    page.fill("#id_entity", "crm/Accounts")
    page.dispatch_event("#id_entity", "change")
    page.wait_for_selector("[data-testid=entity-details]")
    assert "bulk/CRM/Accounts" in page.inner_text("[data-testid=entity-details]")
    page.select_option("#id_http_client", str(client.pk))
    # Exact Incomings start incremental (the subscriber's declaration); this one is a full read (sync endpoint).
    assert page.is_checked("#id_incremental")
    page.uncheck("#id_incremental")
    page.click("[data-select-property=ID]")
    page.click("[data-select-property=Name]")
    page.click("[data-select-property=City]")
    assert page.input_value("#id_select") == "ID,Name,City"
    wait_for_js(page,
        "document.querySelector('[data-testid=request-url]')?.innerText.replaceAll('%24', '$')"
        ".includes('select=ID,Name,City')", timeout=10_000)  # the full field list before it also has City
    url = page.inner_text("[data-testid=request-url]")
    assert "/api/v1/101001/sync/CRM/Accounts?" in url and "select=ID,Name,City" in url.replace("%24", "$")

    page.click("[data-testid=fetch-sample]")
    page.wait_for_selector("[data-testid=sample-summary]")
    assert "5 entities" in page.inner_text("[data-testid=sample-summary]")
    # A table (one column per property), the JSON behind a toggle.
    headers = page.locator("#sample [data-testid=sample-table] thead th").all_inner_texts()
    assert [h.strip() for h in headers][1:4] == ["ID", "Name", "City"]
    assert page.locator("#sample [data-testid=sample-table] tbody tr").count() == 5
    assert not page.locator("#sample [data-testid=sample-json] pre").is_visible()
    page.click("#sample [data-testid=sample-json] summary")
    assert re.search(r'"City": ', page.inner_text("#sample [data-testid=sample-json] pre"))
    screenshot(page, "incoming-form-sample")

    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-testid=run-now]")
    incoming = Incoming.objects.get(name="Accounts from Exact")
    assert incoming.query["$select"] == "ID,Name,City"
    screenshot(page, "incoming-detail")

    # Eager Celery reads all 10,000+ accounts inside this POST: on a loaded machine that takes more than 15 s.
    page.click("[data-testid=run-now]", timeout=90_000)
    page.wait_for_selector("[data-testid=entities-read]")
    wait_for_js(page, "document.querySelector('[data-testid=run-status]').innerText.includes('Succeeded')",
                           timeout=30_000)
    run = Run.objects.get(incoming=incoming)
    assert run.status == Run.Status.SUCCEEDED and run.entities_read >= 10_000
    assert page.inner_text("[data-testid=entities-read]").strip() == str(run.entities_read)
    assert page.inner_text("[data-testid=api-calls]").strip() == str(run.api_calls)
    assert page.inner_text("[data-testid=tasks-created]").strip() == str(run.tasks_created)
    screenshot(page, "incoming-run")
