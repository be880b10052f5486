"""In the browser: a transformer's tester loads its input from a route's last task (over what was typed) and runs."""

from __future__ import annotations

import json

import pytest

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task, Transformer
from tests.fixtures.browser import login_as, screenshot, wait_for_js


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_load_a_routes_last_task_into_the_tester_and_run_it(browser_page, live_server, editor_user):
    client = HttpClient.objects.create(name="Exact NL", kind="exact_online", config={"base_url": "http://x"})
    incoming = Incoming.objects.create(name="Accounts in", subscriber="exact_online", http_client=client,
                                       config={"entity": "crm/Accounts"})
    outgoing = Outgoing.objects.create(name="Accounts out", publisher="exact_online", action="create",
                                       entity="crm/Accounts", http_client=client)
    route = Route.objects.create(name="Accounts A to B", incoming=incoming, outgoing=outgoing)
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run)
    task = Task.objects.create(run=run, incoming=incoming, data={"Name": "Bakkerij Zoë", "Internal": "x"})
    transformer = Transformer.objects.create(name="drop internal",
                                             steps=[{"type": "remove", "params": {"paths": ["Internal"]}}])

    page = browser_page
    login_as(page, live_server.url, editor_user.username)
    page.goto(f"{live_server.url}/connections/transformers/{transformer.pk}/")
    page.fill("#tester-input", '{"typed": true}')  # a textarea typed in must still take the loaded input
    page.select_option("#tester-source-route", str(route.pk))
    page.select_option("#tester-source-stage", "transformed")
    page.click("[data-testid=load-route-task]")
    note = page.locator("#tester-source-message")
    wait_for_js(page, "document.querySelector('#tester-source-message').textContent.includes('no transformed')")
    assert json.loads(page.input_value("#tester-input")) == {"typed": True}  # nothing loaded: input kept

    page.select_option("#tester-source-stage", "data")
    page.click("[data-testid=load-route-task]")
    wait_for_js(page, "document.querySelector('#tester-input').value.includes('Bakkerij')")
    assert json.loads(page.input_value("#tester-input")) == task.data
    assert f"Task #{task.pk}" in note.inner_text()

    page.click("[data-testid=run-test]")
    trace = page.locator("[data-testid=trace]")
    trace.wait_for()
    assert "Internal" in trace.locator("tbody tr").nth(0).inner_text()
    output = page.locator("[data-testid=tester-entity] details.json pre").first.inner_text()
    assert json.loads(output) == {"Name": "Bakkerij Zoë"}
    screenshot(page, "transformer-tester-sources")
