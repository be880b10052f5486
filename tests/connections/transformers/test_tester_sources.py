"""The tester's sources (connections:tester_source): a route's last task, an Outgoing's last published task, an
Incoming's request parameters, and Fetch sample (one real call to the sandbox, Editors only)."""

from __future__ import annotations

import json
from html import unescape

import pytest
from django.urls import reverse

from clients.models import HttpClient
from connections.flow.transform import DEFERRED_KEY
from connections.models import Incoming, IncomingCursor, Outgoing, Route, RouteRun, Run, Task, Transformer

URL = reverse("connections:tester_source")
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def route(db) -> Route:
    client = HttpClient.objects.create(name="Exact NL", kind="exact_online", config={"base_url": "http://x"})
    incoming = Incoming.objects.create(
        name="Accounts in", subscriber="exact_online", http_client=client,
        config={"entity": "crm/Accounts", "endpoint": "auto", "divisions": "selected", "division_codes": [101001]})
    outgoing = Outgoing.objects.create(name="Accounts out", publisher="exact_online", action="create",
                                       entity="crm/Accounts", http_client=client)
    return Route.objects.create(name="A to B", incoming=incoming, outgoing=outgoing)


def add_tasks(route: Route, *rows: dict) -> list[Task]:
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run, status=RouteRun.Status.SUCCEEDED)
    return [Task.objects.create(run=run, incoming=route.incoming, identifier=str(n), **row)
            for n, row in enumerate(rows)]


def loaded(response) -> dict:
    """The JSON inside the returned textarea (htmx answer)."""
    html = response.content.decode()
    assert response.status_code == 200 and '<textarea id="tester-input"' in html, html
    text = html.split(">", 1)[1].split("</textarea>", 1)[0]
    return json.loads(unescape(text))


def message(response) -> str:
    assert response.status_code == 200 and response["HX-Retarget"] == "#tester-source-message"
    return unescape(response.content.decode())


def test_a_routes_last_task_as_read_or_transformed(viewer_client, route):
    add_tasks(route, {"data": {"Name": "old"}, "transformed": {"N": "old"}},
              {"data": {"Name": "Zoë", "Code": "1"}, "transformed": {"N": "Zoë", DEFERRED_KEY: [{"key": "1"}]}})
    as_read = viewer_client.get(URL, {"route": route.pk}, **HX)
    assert loaded(as_read) == {"Name": "Zoë", "Code": "1"}
    assert 'id="tester-source-message"' in as_read.content.decode() and "hx-swap-oob" in as_read.content.decode()
    transformed = viewer_client.get(URL, {"route": route.pk, "stage": "transformed"}, **HX)
    assert loaded(transformed) == {"N": "Zoë"}  # the internal deferred writes are not part of the input
    plain = viewer_client.get(URL, {"route": route.pk})  # outside htmx: the JSON text itself
    assert plain["Content-Type"].startswith("application/json") and json.loads(plain.content) == {"Name": "Zoë",
                                                                                                     "Code": "1"}


def test_nothing_to_load_says_why(viewer_client, route):
    assert "has no task yet" in message(viewer_client.get(URL, {"route": route.pk}, **HX))
    assert viewer_client.get(URL, {"route": route.pk}).status_code == 404  # outside htmx the status says it
    assert "Nothing has been published through Accounts out" in message(
        viewer_client.get(URL, {"outgoing": route.outgoing_id}, **HX))
    add_tasks(route, {"data": {"Name": "x"}, "status": Task.Status.FAILED, "error": "step 1 (remove): boom"})
    text = message(viewer_client.get(URL, {"route": route.pk, "stage": "transformed"}, **HX))
    assert "no transformed data" in text and "boom" in text
    assert "Choose a route or an Incoming" in message(viewer_client.get(URL, **HX))
    assert viewer_client.get(URL, {"route": 999999}, **HX).status_code == 404


def test_an_outgoings_last_published_task_is_what_its_transformer_received(viewer_client, route):
    published, _new = add_tasks(
        route,
        {"data": {"Name": "a"}, "transformed": {"Name": "A"}, "request": {"body": {"Name": "A"}},
         "status": Task.Status.FINISHED},
        {"data": {"Name": "b"}, "transformed": {"Name": "B"}},  # not published yet
    )
    response = viewer_client.get(URL, {"outgoing": route.outgoing_id}, **HX)
    assert loaded(response) == {"Name": "A"}
    assert f"Task #{published.pk}" in response.content.decode()


def test_the_request_parameters_a_request_transformer_receives(viewer_client, route):
    incoming = route.incoming
    incoming.incremental = True
    incoming.query = {"$select": "ID,Name"}
    incoming.save()
    params = loaded(viewer_client.get(URL, {"incoming_request": incoming.pk}, **HX))
    assert params["path"] == {"division": 101001} and params["cursor"] is None
    assert params["query"]["$select"].startswith("ID,Name")
    IncomingCursor.objects.create(incoming=incoming, division=101001, kind="timestamp", value="4711")
    params = loaded(viewer_client.get(URL, {"incoming_request": incoming.pk}, **HX))
    assert params["cursor"]["filter"] == "Timestamp gt 4711L"  # the stored cursor, as the runner passes it
    incoming.config = {**incoming.config, "entity": "crm/NoSuchThing"}
    incoming.save()
    assert "cannot be planned" in message(viewer_client.get(URL, {"incoming_request": incoming.pk}, **HX))


def test_fetch_sample_is_for_editors(viewer_client, editor_client, route):
    assert viewer_client.get(URL, {"incoming": route.incoming_id}, **HX).status_code == 403
    route.incoming.http_client = None
    route.incoming.save()
    text = message(editor_client.get(URL, {"incoming": route.incoming_id}, **HX))
    assert "Fetch sample of Accounts in failed: Choose an HTTP Client first." in text


@pytest.mark.django_db(transaction=True)
def test_fetch_sample_loads_the_first_entity_from_exact(editor_client, granted_client):
    from tests.connections.incoming.conftest import make_incoming

    incoming = make_incoming(granted_client, query={"$select": "ID,Code,Name"}, name="sampled")
    response = editor_client.get(URL, {"incoming": incoming.pk}, **HX)
    entity = loaded(response)
    assert set(entity) >= {"ID", "Name"} and entity["Name"]
    assert "1 API call" in response.content.decode()
    bad = make_incoming(incoming.http_client, query={"$filter": "NoSuchField eq 1"}, name="refused")
    text = message(editor_client.get(URL, {"incoming": bad.pk}, **HX))
    assert "Fetch sample of refused failed:" in text and "NoSuchField" in text


def test_the_editors_tester_offers_routes_and_incomings(editor_client, viewer_client, route):
    transformer = Transformer.objects.create(name="shape", steps=[])
    url = reverse("connections:transformer_detail", args=[transformer.pk])
    page = editor_client.get(url).content.decode()
    assert 'id="tester-source-route"' in page and ">A to B</option>" in page
    assert 'id="tester-source-incoming"' in page and "Fetch sample (1 API call)" in page
    page = viewer_client.get(url).content.decode()
    assert 'id="tester-source-route"' in page and "Fetch sample" not in page  # a call to Exact: Editors only
