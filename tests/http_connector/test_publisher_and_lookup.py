"""The HTTP Publisher (statuses, permanent vs transient, Retry-After, idempotency key, the answer on the task)
and the HTTP lookup step through a generic client, against a real local server; outbound safety."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Outgoing
from connections.publishers import PublishError, PublishJob
from connections.transformers import Context, TransformError
from connections.waits import WaitUntil
from http_connector.publisher import HttpPublisher, parse_statuses
from lib.http import Refused, check_destination, same_origin
from tests.connections.transformers.helpers import one, step

pytestmark = pytest.mark.django_db


def job(outgoing, *, payload=None, path=None, source_id="src-1", config=None):
    return PublishJob(outgoing=outgoing, path=path or {}, query={}, payload=payload or {"sku": "A1"},
                      source_id=source_id, reference="EDREF12345", attempt=1, maybe_published=False,
                      config={"success": "200-299", "key_path": "id", **(config or {})})


def outgoing_for(client, action="create", entity="/products"):
    return SimpleNamespace(http_client=client, action=action, entity=entity, pk=7)


def test_a_post_stores_the_answer_and_the_key_with_an_idempotency_key_from_the_task(make_client, api_server):
    result = HttpPublisher().publish(job(outgoing_for(make_client()), config={"idempotency_header": "Idempotency-Key"}))
    assert result.external_key == "r1" and result.remember == ("src-1", "r1")
    assert result.response["status"] == 201 and result.response["body"]["sku"] == "A1"
    again = HttpPublisher().publish(job(outgoing_for(make_client(name="2")), config={"idempotency_header":
                                                                                       "Idempotency-Key"}))
    keys = [p["idempotency_key"] for p in api_server.state.posted]
    assert keys[0] == keys[1] == "EDREF12345-7"  # the same task's retry carries the same key
    assert again.external_key == "r2"


@pytest.mark.parametrize(("status", "headers", "permanent", "retry_after"), [
    (422, {}, True, None), (404, {}, True, None), (409, {}, False, None), (425, {}, False, None),
    (500, {}, False, None), (500, {"Retry-After": "5"}, False, 5.0),
])
def test_failures_are_permanent_or_transient_as_the_status_says(status, headers, permanent, retry_after, make_client,
                                                               api_server):
    api_server.state.script = [(status, headers, {"error": {"message": f"status {status}"}})]
    with pytest.raises(PublishError) as info:
        HttpPublisher().publish(job(outgoing_for(make_client(), action="update", entity="/products/{sku}"),
                                    path={"sku": "A1"}))
    assert info.value.permanent is permanent and info.value.retry_after == retry_after
    assert f"HTTP {status}" in info.value.message and info.value.response["status"] == status
    assert api_server.state.requests[-1]["method"] == "PUT" and api_server.state.requests[-1]["path"] == "/products/A1"


@pytest.mark.parametrize(("status", "headers", "reason", "seconds", "keeps_request"), [
    (429, {"Retry-After": "30"}, "Rate limited by", 30, False), (429, {}, "Rate limited by", 60, False),
    (503, {"Retry-After": "5"}, "unavailable (HTTP 503)", 5, False), (503, {}, "unavailable (HTTP 503)", 45, False),
    (502, {}, "unavailable (HTTP 502)", 45, True), (504, {}, "unavailable (HTTP 504)", 45, True),
    (408, {}, "unavailable (HTTP 408)", 45, False),
])
def test_a_429_or_an_outage_defers_the_task_for_its_wait_without_an_attempt(status, headers, reason, seconds,
                                                                           keeps_request, make_client, api_server,
                                                                           settings):
    settings.HTTP_OUTAGE_WAIT = 45.0
    api_server.state.script = [(status, headers, {"error": {"message": f"status {status}"}})]
    before = timezone.now()
    with pytest.raises(WaitUntil) as info:
        HttpPublisher().publish(job(outgoing_for(make_client(), action="update", entity="/products/{sku}"),
                                    path={"sku": "A1"}))
    wait = info.value
    assert reason in wait.reason and wait.counted is False
    high = seconds * 1.2 if not headers and status != 429 else seconds  # the outage wait is jittered
    assert before + timedelta(seconds=seconds - 1) <= wait.until <= timezone.now() + timedelta(seconds=high + 1)
    assert (wait.request is not None) is keeps_request  # a gateway may have passed the write on: look first


def test_a_used_up_requests_per_minute_limit_defers_without_sleeping(make_client, api_server, monkeypatch):
    import time

    from http_connector.models import RateWindow

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    client = make_client(rate_limit=1)
    assert RateWindow.take(client, 1) == 0  # another worker took the minute's only slot
    sent = len(api_server.state.requests)
    with pytest.raises(WaitUntil, match="requests-per-minute limit of") as info:
        HttpPublisher().publish(job(outgoing_for(client)))
    assert slept == [] and len(api_server.state.requests) == sent and info.value.request is None
    assert info.value.until > timezone.now()


def test_success_statuses_are_configurable_and_delete_forgets_the_source(make_client, api_server):
    api_server.state.script = [(404, {}, {"error": "gone"})]
    result = HttpPublisher().publish(job(outgoing_for(make_client(), action="delete", entity="/products/A1"),
                                         payload={}, config={"success": "200-299, 404"}))
    assert result.forget == "src-1" and api_server.state.requests[-1]["method"] == "DELETE"
    assert parse_statuses("200-204, 409") == [200, 201, 202, 203, 204, 409]
    with pytest.raises(ValueError, match="not a status"):
        parse_statuses("2xx")


def test_unreachable_and_missing_path_parameters(make_client):
    gone = make_client(name="Gone", base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(WaitUntil, match="Gone not reachable") as info:  # the outage wait, not an attempt
        HttpPublisher().publish(job(outgoing_for(gone)))
    assert info.value.counted is False and info.value.request is not None  # it may have arrived: look first
    with pytest.raises(PublishError, match="Path parameter sku is missing") as info:
        HttpPublisher().publish(job(outgoing_for(gone, entity="/products/{sku}")))
    assert info.value.permanent


def test_the_outgoing_form_takes_a_path_and_the_publishers_fields(editor_client, make_client):
    client = make_client()
    data = {"name": "Products out", "publisher": "http", "action": "patch", "entity": "/products/{sku}",
            "path": "{}", "query": "{}", "payload": "{}", "payload_from_tasks": "on", "http_client": client.pk,
            "success": "200-299", "idempotency_header": "Idempotency-Key", "key_path": "id"}
    refused = editor_client.post(reverse("connections:outgoing_create"), {**data, "success": "2xx"})
    assert "not a status" in refused.content.decode() and not Outgoing.objects.exists()
    editor_client.post(reverse("connections:outgoing_create"), data)
    outgoing = Outgoing.objects.get(name="Products out")
    assert outgoing.entity == "/products/{sku}" and outgoing.config["idempotency_header"] == "Idempotency-Key"


def test_http_lookup_through_a_generic_client_with_clear_errors(make_client, api_server):
    client = make_client()
    lookup = step("http_lookup", http_client=client.pk, path="/items/page", query={"limit": "1", "page": "&{n}"},
                  result="data[0].name", target="name")
    assert one([lookup], {"n": 3}, Context())["name"] == "Item 3"
    missing = step("http_lookup", http_client=client.pk, path="/nowhere", result="id", target="id")
    with pytest.raises(TransformError, match="HTTP 404"):
        one([missing], {}, Context())


@pytest.mark.parametrize(("status", "reason"), [(429, "Rate limited by"), (503, "unavailable (HTTP 503)")])
def test_an_http_lookup_answered_429_or_503_waits_instead_of_sleeping(status, reason, make_client, api_server,
                                                                     monkeypatch):
    import time

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    api_server.state.script = [(status, {"Retry-After": "20"}, {"error": "not now"})]
    lookup = step("http_lookup", http_client=make_client().pk, path="/items/page", query={"limit": "1"},
                  result="data[0].name", target="name")
    before = timezone.now()
    with pytest.raises(WaitUntil) as info:  # the page or batch waits for it (connections.flow), no attempt
        one([lookup], {}, Context())
    assert reason in info.value.reason and "(lookup)" in info.value.reason and slept == []
    assert before + timedelta(seconds=19) <= info.value.until <= timezone.now() + timedelta(seconds=21)
    assert len(api_server.state.requests) == 1  # asked once: no retry after a sleep


def test_outbound_safety_private_addresses_and_other_hosts(settings):
    with pytest.raises(Refused, match="private, loopback or link-local"):
        check_destination("http://127.0.0.1:8080/x", allow_private=False)
    with pytest.raises(Refused, match=r"169\.254\.169\.254"):
        check_destination("http://169.254.169.254/latest/meta-data", allow_private=False)
    with pytest.raises(Refused, match="private"):
        check_destination("http://intranet.test/", allow_private=False, resolve=lambda host, port: ["10.1.2.3"])
    check_destination("http://127.0.0.1:8080/x", allow_private=False, allowed_hosts=["127.0.0.1"])
    check_destination("https://api.example.com/", allow_private=False, resolve=lambda host, port: ["93.184.216.34"])
    assert same_origin("https://a.test/v1", "https://a.test:443/v1/next?page=2")
    assert not same_origin("https://a.test/v1", "http://a.test/v1") and not same_origin("https://a.test", "https://b.test")


def test_in_production_the_client_refuses_a_private_host(make_client, api_server, settings):
    from http_connector.api import CallError, RestApi

    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.SANDBOX_URL = "http://sandbox.invalid:8001"
    with pytest.raises(CallError, match="private, loopback or link-local") as info:
        RestApi(make_client()).call("GET", "/items/page")
    assert info.value.permanent and api_server.state.requests == []
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    assert RestApi(make_client(name="allowed")).call("GET", "/items/page").status == 200
