"""The shared requests-per-minute limit, the redacted request log and the request transformer of the HTTP
Subscriber, against the local server."""

from __future__ import annotations

import pytest

from clients.models import HttpClient, RequestLog
from http_connector.api import RestApi
from http_connector.models import RateWindow
from http_connector.subscriber import HttpSubscriber

pytestmark = pytest.mark.django_db


def test_the_rate_limit_is_shared_by_every_api_of_a_client(make_client):
    client = make_client(rate_limit=3)
    waits: list[float] = []
    first, second = RestApi(client, sleep=waits.append), RestApi(HttpClient.objects.get(pk=client.pk),
                                                                  sleep=waits.append)
    for api in (first, second, first):
        assert api.call("GET", "/items/page").status == 200
    assert waits == [] and RateWindow.objects.get(client=client).used == 3
    assert RateWindow.take(client, 3) > 0  # the fourth in the same minute must wait


def test_logged_requests_are_redacted(make_client, api_server):
    api_server.state.auth = {"mode": "api_key_query", "name": "api_key", "key": "query-secret-1234"}
    client = make_client(auth="api_key", api_key_name="api_key", api_key_in="query", api_key="query-secret-1234",
                         headers={"X-Trace": "on"})
    client.log_requests = True
    client.save()
    answer = RestApi(client).call("GET", "/items/page")
    assert "query-secret-1234" not in answer.url  # the URL pages, checkpoints and next links are built from
    row = RequestLog.objects.get(client=client)
    stored = f"{row.url} {row.request_headers} {row.response_body}"
    assert row.status == 200 and "query-secret-1234" not in stored and "X-Trace" in str(row.request_headers)


def test_the_request_transformer_shapes_the_first_request(make_client, make_incoming):
    incoming = make_incoming(make_client(), request_path="/items/{style}", path={"style": "page"}, items="data",
                             paging="page", page_size=5, size_param="limit")

    def hook(request):
        return {**request, "path": {"style": "offset"}, "query": {**request["query"], "sort": "id"}}

    spec = HttpSubscriber(incoming).preview(request_hook=hook)[0]
    assert "/items/offset?" in spec.url and "sort=id" in spec.url and "limit=5" in spec.url
