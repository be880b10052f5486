"""The HTTP Subscriber against a real local server: every paging strategy, the incremental cursor, and the
bad input a careless configuration or a misbehaving API gives (clear errors, nothing half-saved)."""

from __future__ import annotations

import pytest

from connections.flow.read import execute_incoming_run
from connections.models import IncomingCursor, Run, Task
from connections.subscribers import ReadError
from http_connector.subscriber import HttpSubscriber, next_link

from .server import ITEMS

pytestmark = pytest.mark.django_db

STRATEGIES = {
    "page": {"request_path": "/items/page", "items": "data", "paging": "page", "page_param": "page",
             "size_param": "limit", "page_size": 5},
    "offset": {"request_path": "/items/offset", "items": "results", "paging": "offset", "offset_param": "offset",
               "size_param": "limit", "page_size": 5},
    "cursor": {"request_path": "/items/cursor", "items": "data", "paging": "cursor", "cursor_param": "cursor",
               "cursor_path": "meta.next", "size_param": "limit", "page_size": 5},
    "next_url": {"request_path": "/items/next", "items": "data", "paging": "next_url", "next_url_path": "links.next",
                 "size_param": "limit", "page_size": 5},
    "link": {"request_path": "/items/link", "items": "@", "paging": "link", "size_param": "limit", "page_size": 5},
}


def read_all(incoming):
    return list(HttpSubscriber(incoming).read(None))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_paging_strategy_reads_every_item_once_in_pages_of_the_page_size(strategy, make_client, make_incoming,
                                                                               api_server):
    incoming = make_incoming(make_client(), **STRATEGIES[strategy])
    pages = read_all(incoming)
    ids = [item["id"] for page in pages for item in page.entities]
    assert ids == [item["id"] for item in ITEMS]
    assert [len(page.entities) for page in pages][:4] == [5, 5, 5, 5]
    assert pages[-1].next_url is None and all(page.next_url for page in pages[:-1])
    assert HttpSubscriber(incoming).identifier(pages[0].entities[0]) == "1"


def test_the_page_cap_stops_the_read_and_the_run_records_calls(make_client, make_incoming, api_server):
    incoming = make_incoming(make_client(), page_cap=2, **STRATEGIES["cursor"])
    run, _ = Run.enqueue(incoming)
    done = execute_incoming_run(run.pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.entities_read == 10 and done.api_calls == 2
    assert Task.objects.filter(run=done).count() == 10


def test_incremental_reads_keep_the_highest_value_and_send_it_next_time(make_client, make_incoming, api_server):
    incoming = make_incoming(make_client(), incremental=True, cursor_field="updated_at",
                             cursor_query="updated_after", **STRATEGIES["next_url"])
    first = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert first.entities_read == 23
    cursor = IncomingCursor.objects.get(incoming=incoming)
    assert cursor.kind == "max" and cursor.value == ITEMS[-1]["updated_at"]
    api_server.state.items.append({"id": 24, "name": "New", "updated_at": "2026-01-01T00:01:00Z"})
    api_server.state.requests.clear()
    second = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert second.entities_read == 1
    assert api_server.state.requests[0]["query"]["updated_after"] == ITEMS[-1]["updated_at"]
    assert IncomingCursor.objects.get(incoming=incoming).value == "2026-01-01T00:01:00Z"
    # Rewound by hand (as on the Incoming page): the next run starts there.
    IncomingCursor.objects.filter(incoming=incoming).update(value=ITEMS[19]["updated_at"])
    third = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert third.entities_read == 4


def test_a_paging_loop_stops_with_a_clear_error(make_client, make_incoming):
    incoming = make_incoming(make_client(), request_path="/loop", items="data", paging="next_url",
                             next_url_path="next_url")
    run = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert run.status == Run.Status.FAILED and "Paging loop" in run.error


def test_a_next_link_to_another_host_is_refused(make_client, make_incoming):
    incoming = make_incoming(make_client(), request_path="/elsewhere", items="data", paging="next_url",
                             next_url_path="next_url")
    run = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert run.status == Run.Status.FAILED and "other.invalid" in run.error and "not followed" in run.error


def test_html_instead_of_json_and_items_that_find_nothing_are_clear(make_client, make_incoming):
    client = make_client()
    with pytest.raises(ReadError, match=r"answered an HTML page .*instead of JSON"):
        HttpSubscriber(make_incoming(client, request_path="/html")).fetch_sample()
    with pytest.raises(ReadError, match=r"Items 'orders' found nothing .*keys data"):
        HttpSubscriber(make_incoming(client, request_path="/items/page", items="orders")).fetch_sample()


def test_a_ten_megabyte_answer_is_refused_without_holding_it(make_client, make_incoming, settings):
    settings.OUTBOUND_MAX_BYTES = 10_000_000
    incoming = make_incoming(make_client(), request_path="/big", items="data")
    run = execute_incoming_run(Run.enqueue(incoming)[0].pk)
    assert run.status == Run.Status.FAILED and "more than 10 MB" in run.error
    assert not Task.objects.filter(run=run).exists()


def test_a_wrong_api_key_and_an_unreachable_host_say_so(make_client, make_incoming, api_server):
    api_server.state.auth = {"mode": "api_key_header", "name": "X-API-Key", "key": "right"}
    wrong = make_client(auth="api_key", api_key_name="X-API-Key", api_key="wrong")
    with pytest.raises(ReadError, match=r"refused \(HTTP 401\): check the client's credentials") as info:
        HttpSubscriber(make_incoming(wrong, request_path="/items/page", items="data")).fetch_sample()
    assert info.value.permanent and "wrong" not in info.value.message
    gone = make_client(name="Gone", base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(ReadError, match="could not be reached") as info:
        HttpSubscriber(make_incoming(gone, request_path="/items")).fetch_sample()
    assert not info.value.permanent


def test_throttling_defers_the_page_for_retry_after_instead_of_sleeping(make_client, make_incoming, api_server,
                                                                        monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from connections.waits import WaitUntil

    waits: list[float] = []
    monkeypatch.setattr("http_connector.api.time.sleep", waits.append)
    api_server.state.script = [(429, {"Retry-After": "120"}, {"error": "slow down"})]
    incoming = make_incoming(make_client(), **STRATEGIES["page"])
    before = timezone.now()
    with pytest.raises(WaitUntil) as caught:  # the run goes back to Queued and reads this page again then
        read_all(incoming)
    assert waits == []  # before: the worker slept the Retry-After (up to a minute), up to 3 times
    wait = caught.value
    assert "Rate limited by" in wait.reason and "HTTP 429" in wait.reason and not wait.counted
    assert before + timedelta(seconds=119) <= wait.until <= timezone.now() + timedelta(seconds=121)
    pages = read_all(incoming)  # the server answers again
    assert sum(len(page.entities) for page in pages) == 23 and waits == []


@pytest.mark.parametrize(("status", "headers", "reason"), [
    (503, {}, "unavailable (HTTP 503)"), (502, {}, "unavailable (HTTP 502)"), (504, {"Retry-After": "7"}, "HTTP 504"),
])
def test_an_outage_defers_the_page_for_the_outage_wait(status, headers, reason, make_client, make_incoming, api_server,
                                                       monkeypatch, settings):
    from datetime import timedelta

    from django.utils import timezone

    from connections.waits import WaitUntil

    settings.HTTP_OUTAGE_WAIT = 45.0
    waits: list[float] = []
    monkeypatch.setattr("http_connector.api.time.sleep", waits.append)
    api_server.state.script = [(status, headers, {"error": "down"})]
    before = timezone.now()
    with pytest.raises(WaitUntil) as caught:
        read_all(make_incoming(make_client(), **STRATEGIES["page"]))
    wait = caught.value
    assert reason in wait.reason and waits == [] and not wait.counted
    low, high = (7, 7) if "Retry-After" in headers else (45, 54)  # the server's Retry-After, else jittered
    assert before + timedelta(seconds=low - 1) <= wait.until <= timezone.now() + timedelta(seconds=high + 1)


def test_a_plain_500_and_no_answer_while_reading(make_client, make_incoming, api_server, monkeypatch):
    from connections.subscribers import ReadError
    from connections.waits import WaitUntil

    waits: list[float] = []
    monkeypatch.setattr("http_connector.api.time.sleep", waits.append)
    api_server.state.script = [(500, {}, {"error": "bug"})]
    with pytest.raises(ReadError) as info:  # an answer about this request: the run's failure, no sleep
        read_all(make_incoming(make_client(), **STRATEGIES["page"]))
    assert not info.value.permanent and "HTTP 500" in info.value.message and waits == []
    gone = make_client(name="Gone", base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(WaitUntil, match="Gone not reachable"):
        read_all(make_incoming(gone, **STRATEGIES["page"]))
    assert waits == []


def test_path_placeholders_come_from_the_path_parameters(make_client, make_incoming):
    incoming = make_incoming(make_client(), path={"style": "offset"}, request_path="/items/{style}", items="results",
                             paging="offset", page_size=5, size_param="limit")
    spec = HttpSubscriber(incoming).preview()[0]
    assert spec.url.endswith("/items/offset?limit=5&offset=0")
    assert len([e for page in read_all(incoming) for e in page.entities]) == 23


def test_link_header_parsing():
    assert next_link('<https://a/x?page=2>; rel="next", <https://a/x>; rel="first"') == "https://a/x?page=2"
    assert next_link('<https://a/x>; rel="prev"') is None and next_link(None) is None


def test_the_form_shows_the_final_url_and_refuses_bad_settings_before_any_call(editor_client, make_client,
                                                                               api_server):
    from django.urls import reverse

    client = make_client()
    form = {"subscriber": "http", "name": "Orders", "http_client": client.pk, "method": "GET",
            "request_path": "/items/{style}", "path_text": "style=page", "items": "data", "paging": "page",
            "page_param": "page", "size_param": "limit", "page_size": "5", "incremental": "on",
            "cursor_field": "updated_at", "cursor_query": "updated_after", "cursor_start": "2026-01-01T00:00:20Z",
            "pagination": "on"}
    preview = editor_client.get(reverse("connections:incoming_preview"), form).content.decode()
    assert f"{api_server.url}/items/page?updated_after=2026-01-01T00%3A00%3A20Z&amp;limit=5&amp;page=1" in preview
    bad = {**form, "items": "data[", "request_path": "/items/{nope}", "body": "{not json"}
    page = editor_client.post(reverse("connections:incoming_create"), bad).content.decode()
    assert "Not a JMESPath expression" in page and "Path parameter nope is missing" in page
    assert "Not valid JSON" in page and api_server.state.requests == []
