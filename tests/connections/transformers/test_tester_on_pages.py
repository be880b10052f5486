"""The same tester wherever a transformer is attached: Route, Incoming (request transformer) and Outgoing
pages show it with their own input and sources, and do not when no transformer is attached."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.urls import reverse

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task, Transformer

TESTER = 'id="tester-form"'


@pytest.fixture
def route(db) -> Route:
    client = HttpClient.objects.create(name="Exact NL", kind="exact_online", config={"base_url": "http://x"})
    incoming = Incoming.objects.create(
        name="Accounts in", subscriber="exact_online", http_client=client,
        config={"entity": "crm/Accounts", "endpoint": "auto", "divisions": "selected", "division_codes": [101002]})
    outgoing = Outgoing.objects.create(name="Accounts out", publisher="exact_online", action="create",
                                       entity="crm/Accounts", http_client=client)
    return Route.objects.create(name="A to B", incoming=incoming, outgoing=outgoing)


@pytest.fixture
def shape(db) -> Transformer:
    return Transformer.objects.create(name="shape", steps=[{"type": "remove", "params": {"paths": ["i"]}}])


def input_of(page: str) -> dict:
    text = page.split('<textarea id="tester-input"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    return json.loads(unescape(text))


def test_route_page_tests_its_transformers_on_its_last_task(viewer_client, editor_client, route, shape):
    assert TESTER not in viewer_client.get(route.get_absolute_url()).content.decode()
    second = Transformer.objects.create(name="second", steps=[])
    route.set_transformers([shape, second])
    page = viewer_client.get(route.get_absolute_url()).content.decode()
    assert TESTER in page and input_of(page) == {}
    assert "has no task yet" in page
    assert f'<option value="{shape.pk}">1. shape</option>' in page and "2. second" in page
    assert f"?route={route.pk}&amp;stage=transformed" in page and "Fetch sample" not in page
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run)
    Task.objects.create(run=run, incoming=route.incoming, data={"Name": "Zoë", "i": 1})
    page = viewer_client.get(route.get_absolute_url()).content.decode()
    assert input_of(page) == {"Name": "Zoë", "i": 1}
    assert "route-tester-result" not in page and page.count('id="tester-input"') == 1  # one tester, the shared one
    assert f"?incoming={route.incoming_id}" in editor_client.get(route.get_absolute_url()).content.decode()


def test_incoming_page_tests_its_request_transformer_on_its_request_parameters(viewer_client, route, shape):
    incoming = route.incoming
    assert TESTER not in viewer_client.get(incoming.get_absolute_url()).content.decode()
    incoming.transformer = shape
    incoming.save()
    page = viewer_client.get(incoming.get_absolute_url()).content.decode()
    assert TESTER in page and f'name="transformer" value="{shape.pk}"' in page
    params = input_of(page)
    assert params["path"] == {"division": 101002} and "$select" in params["query"] and params["cursor"] is None
    assert f"?incoming_request={incoming.pk}" in page


def test_outgoing_page_tests_its_transformer_on_its_last_published_task(viewer_client, route, shape):
    outgoing = route.outgoing
    assert TESTER not in viewer_client.get(outgoing.get_absolute_url()).content.decode()
    outgoing.transformer = shape
    outgoing.save()
    page = viewer_client.get(outgoing.get_absolute_url()).content.decode()
    assert TESTER in page and "Nothing has been published through" in page and input_of(page) == {}
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run)
    Task.objects.create(run=run, incoming=route.incoming, data={"Name": "a"}, transformed={"Name": "A", "i": 2},
                        request={"body": {}}, status=Task.Status.FINISHED)
    page = viewer_client.get(outgoing.get_absolute_url()).content.decode()
    assert input_of(page) == {"Name": "A", "i": 2} and f"?outgoing={outgoing.pk}" in page
    result = viewer_client.post(reverse("connections:transformer_test"),
                                {"transformer": shape.pk, "input": json.dumps(input_of(page))}).content.decode()
    output = result.split("tf-trace")[0]  # the output, before the trace
    assert "&quot;Name&quot;: &quot;A&quot;" in output and "&quot;i&quot;" not in output
