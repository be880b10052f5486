"""In the browser: build a three-step chain in the editor, paste a sample, see the per-step trace, save."""

from __future__ import annotations

import json

import pytest

from connections.models import Transformer
from tests.fixtures.browser import login_as, screenshot, wait_for_js

SAMPLE = {"Naam": "Bakkerij Zoë", "Modified": "/Date(1774755000000)/", "Internal": "x"}


def _add_step(page, step_type: str) -> None:
    before = page.locator("#chain li.tf-step").count()
    page.select_option("#add-step-type", step_type)
    page.click("[data-testid=add-step]")
    wait_for_js(page, f"document.querySelectorAll('#chain li.tf-step').length === {before + 1}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_three_steps_test_a_sample_and_save(browser_page, live_server, editor_user):
    page = browser_page
    login_as(page, live_server.url, editor_user.username)
    page.goto(f"{live_server.url}/connections/transformers/new")
    page.fill("#id_name", "Accounts to CRM")

    _add_step(page, "move")
    page.fill("#s0-source", "Naam")
    page.fill("#s0-target", "Name")
    _add_step(page, "cast")
    assert page.input_value("#s0-source") == "Naam"  # earlier steps keep what was typed
    page.fill("#s1-path", "Modified")
    page.select_option("#s1-to", "date")
    _add_step(page, "remove")
    page.fill("#s2-paths", "Internal")

    page.fill("#tester-input", json.dumps(SAMPLE))
    page.click("[data-testid=run-test]")
    trace = page.locator("[data-testid=trace]")
    trace.wait_for()
    rows = trace.locator("tbody tr")
    assert rows.count() == 3
    assert "move" in rows.nth(0).inner_text() and "Name" in rows.nth(0).inner_text()
    assert "2026-03-29T03:30:00+02:00" in rows.nth(1).inner_text()  # Exact wall-clock time, after the DST change
    assert "Internal" in rows.nth(2).inner_text()
    assert "Bakkerij Zoë" in page.locator("#tester-result").inner_text()
    screenshot(page, "transformer-editor-trace")

    page.click("text=Save transformer")
    page.wait_for_selector(".message-success")
    saved = Transformer.objects.get(name="Accounts to CRM")
    assert [s["type"] for s in saved.steps] == ["move", "cast", "remove"]
