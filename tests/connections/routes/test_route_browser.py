"""Browser: create an Outgoing and a Route, run it, watch the counters, fix a failed task's payload and retry it."""

from __future__ import annotations

import re

import pytest

from connections.models import Incoming, Storage, Task, Transformer
from tests.fixtures.browser import login_as, screenshot, wait_for_js
from tests.fixtures.sandbox import grant_client


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_outgoing_route_run_and_fix_a_failed_task(browser_page, live_server, editor_user, own_sandbox,
                                                  celery_worker_process):
    source, target = own_sandbox.divisions
    client = grant_client(own_sandbox, "Exact sandbox", unlimited=True)
    Incoming.objects.create(
        name="Five accounts of A", subscriber="exact_online", http_client=client, pagination=False,
        config={"entity": "crm/Accounts", "divisions": "selected", "division_codes": [source], "endpoint": "standard"},
        query={"$select": "ID,Name,City", "$top": "5"},
    )
    Storage.objects.get_or_create(name="unused")
    Transformer.objects.create(name="Account shape", steps=[
        {"type": "key_map", "params": {"mapping": {"Name": "Name", "City": "City"}, "unmapped": "drop"}}])
    # The first create in B is refused with Exact's Dutch validation message.
    own_sandbox.set_faults({"path": f"{target}/crm/Accounts$", "method": "POST", "validation_500_rate": 1, "times": 1})
    worker = celery_worker_process(concurrency=2)
    page = browser_page
    try:
        login_as(page, live_server.url, editor_user.username)

        # --- Outgoing -------------------------------------------------------------------------------
        page.goto(f"{live_server.url}/connections/outgoing/create/")
        page.fill("#id_name", "Accounts into B")
        page.fill("#id_entity", "crm/Accounts")  # searchable: a text box with suggestions
        page.dispatch_event("#id_entity", "change")
        # The reference stays on our side unless someone picks a field and confirms the overwrite.
        page.wait_for_selector("#id_reference_field option[value=SearchCode]", state="attached")
        assert page.input_value("#id_reference_field") == ""
        page.fill("#id_path", f"division={target}")
        page.click("[data-testid=payload-template]")
        wait_for_js(page, "((document.querySelector('#id_payload') || {}).value || '').includes('\"Name\"')")
        page.fill("#id_payload", "{}")
        page.select_option("#id_http_client", str(client.pk))
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Outgoing Accounts into B created.")

        # --- Route ----------------------------------------------------------------------------------
        page.goto(f"{live_server.url}/connections/routes/create/")
        page.fill("#id_name", "Copy five accounts")
        page.select_option("#id_incoming", label="Five accounts of A")
        page.select_option("#id_transformer_1", label="Account shape")
        page.select_option("#id_outgoing", label="Accounts into B")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Route Copy five accounts created.")

        # --- Run now and watch the counters ---------------------------------------------------------
        page.click("[data-testid=run-now]")
        page.wait_for_selector("text=started")
        wait_for_js(page,
            "(document.querySelector('[data-testid=count-finished]') || {}).textContent?.trim() === '4'",
            timeout=45_000)
        wait_for_js(page,
            "(document.querySelector('[data-testid=count-failed]') || {}).textContent?.trim() === '1'", timeout=15_000)
        page.wait_for_selector("#route-status:not([hx-trigger])", timeout=15_000)  # polling stopped
        assert page.inner_text("#route-runs tbody tr:first-child td:nth-child(2)").strip() == "Succeeded"  # out of band
        screenshot(page, "route-run-counters")

        # --- open the failed task, edit its payload, retry --------------------------------------------
        page.click("[data-testid=count-failed] a")
        page.click("table.table tbody tr a")
        page.wait_for_selector("[data-testid=task-error]")
        assert "Ongeldige referentie" in page.inner_text("[data-testid=task-error]")
        page.click("text=Edit payload and retry")
        text = page.input_value("#id_payload")
        page.fill("#id_payload", re.sub(r'"Name": "([^"]*)"', r'"Name": "\1 (fixed)"', text))
        page.click("text=Save and retry")
        page.wait_for_selector("text=queued again")
        for _ in range(40):
            if page.locator("h1 .badge").inner_text().strip() == "Finished":
                break
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator("h1 .badge").inner_text().strip() == "Finished"
        assert "Payload edited by" in page.inner_text("[data-testid=timeline]")
        screenshot(page, "task-fixed")
    finally:
        own_sandbox.clear_faults()
        worker.kill()  # idle by now; a warm shutdown of a polling worker only costs time
    fixed = Task.objects.get(log__icontains="Payload edited")
    assert fixed.status == Task.Status.FINISHED and fixed.external_key
    assert fixed.transformed["Name"].endswith("(fixed)")
