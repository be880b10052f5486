"""ExactApi's request path against a scripted transport: what is retried, what waits, what fails at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from exact_online import errors
from exact_online.api import ExactApi
from exact_online.oauth import GrantStore
from exact_online.quota import InMemoryQuotaStore
from exact_online.transport import Sent, Transport


def response(status: int, body: Any = None, *, headers: dict[str, str] | None = None, text: str | None = None):
    r = requests.Response()
    r.status_code = status
    r._content = (text if text is not None else (json.dumps(body) if body is not None else "")).encode()
    r.headers.update(headers or {"Content-Type": "application/json"})
    r.url = "https://x"
    return r


class Script(Transport):
    def __init__(self, answers: list[Any]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def send(self, method, url, **kwargs):  # type: ignore[override]
        self.sent.append((method, url, dict(kwargs.get("headers") or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Sent(response=answer, sent_at=0.0, received_at=0.0, elapsed_ms=1.0)


class Grants(GrantStore):
    def __init__(self) -> None:
        self.token = "t1"
        self.refreshes = 0

    def access_token(self) -> str:
        return self.token

    def after_unauthorized(self, used_token: str) -> str:
        self.refreshes += 1
        self.token = f"t{self.refreshes + 1}"
        return self.token


def api(answers: list[Any], *, quota: bool = False, **kwargs: Any) -> tuple[ExactApi, Script, Grants, list[float]]:
    slept: list[float] = []
    script, grants = Script(answers), Grants()

    def clock() -> float:
        return NOW + sum(slept)

    client = ExactApi(base_url="https://start.exactonline.nl/", grant_store=grants, transport=script,
                      sleep=slept.append, clock=clock, quota_store=InMemoryQuotaStore(clock) if quota else None,
                      **kwargs)
    return client, script, grants, slept


NOW = 1_800_000_040.0  # 40 s into a minute
OK = {"d": {"results": [{"ID": 1}]}}


def test_urls_carry_the_division_and_follow_next_links_verbatim():
    client, *_ = api([])
    assert client.url_for("crm/Accounts", 123) == "https://start.exactonline.nl/api/v1/123/crm/Accounts"
    assert client.url_for("current/Me", None) == "https://start.exactonline.nl/api/v1/current/Me"
    assert client.url_for("beta/budget/BudgetScenarios", 5) == "https://start.exactonline.nl/api/v1/beta/5/budget/BudgetScenarios"
    assert client.url_for("/api/v1/{division}/system/Divisions", 7).endswith("/api/v1/7/system/Divisions")
    nxt = "https://start.exactonline.nl/api/v1/1/crm/Accounts?$skiptoken=guid'x'"
    assert client.url_for(nxt, 1) == nxt


def test_sends_bearer_accept_json_and_prefer_on_post():
    client, script, *_ = api([response(201, {"d": {"ID": 1}})])
    client.request("POST", "crm/Accounts", division=1, json={"Name": "x"})
    _method, _, headers = script.sent[0]
    assert headers["Authorization"] == "Bearer t1"
    assert headers["Accept"] == "application/json"
    assert headers["Prefer"] == "return=representation"


def test_401_gets_one_refresh_and_retry():
    client, script, grants, _ = api([response(401, text=""), response(200, OK)])
    assert client.get("crm/Accounts", division=1) == OK
    assert grants.refreshes == 1
    assert script.sent[1][2]["Authorization"] == "Bearer t2"


def test_a_401_on_a_freshly_refreshed_token_is_retried_after_a_backoff():
    client, script, grants, slept = api([response(401, text=""), response(401, text=""), response(200, OK)])
    assert client.get("crm/Accounts", division=1) == OK
    assert grants.refreshes == 1 and slept == [20.0]
    assert [sent[2]["Authorization"] for sent in script.sent] == ["Bearer t1", "Bearer t2", "Bearer t2"]


def test_401s_that_outlast_the_refresh_are_unauthorized_transient_and_bounded():
    client, script, grants, slept = api([response(401, text="")] * 3)
    with pytest.raises(errors.Unauthorized) as caught:
        client.get("crm/Accounts", division=1)
    assert not caught.value.permanent  # the grant was not refused: the task is retried later
    assert grants.refreshes == 1 and len(script.sent) == 3 and slept == [20.0]


def test_a_refresh_per_distinct_token_across_a_backoff():
    """The run that died: 401 -> refresh, a 500 and a backoff during which the (10 s) token was renewed,
    then a 401 on that new token. It gets its own refresh instead of "refused twice"."""
    client, script, grants, _ = api([response(401, text=""), response(500, text=""), response(401, text=""),
                                     response(200, OK)])

    def sleep_and_renew(seconds: float) -> None:  # the store's planned refresh while the request waited
        grants.token = "renewed-during-backoff"

    client.sleep = sleep_and_renew
    assert client.get("crm/Accounts", division=1) == OK
    assert [sent[2]["Authorization"] for sent in script.sent] == [
        "Bearer t1", "Bearer t2", "Bearer renewed-during-backoff", "Bearer t3"]
    assert grants.refreshes == 2


def test_a_refused_grant_fails_at_once():
    client, script, grants, slept = api([response(401, text="")])

    def refuse(used_token: str) -> str:
        raise errors.NeedsReconnect("Exact Online refused to refresh the access (invalid_grant).")

    grants.after_unauthorized = refuse  # type: ignore[method-assign]
    with pytest.raises(errors.NeedsReconnect) as caught:
        client.get("crm/Accounts", division=1)
    assert caught.value.permanent and len(script.sent) == 1 and slept == []


def test_429_waits_for_the_reset_then_succeeds():
    reset_ms = str(int((NOW + 30) * 1000))
    throttled = response(429, text="", headers={"X-RateLimit-Minutely-Remaining": "0",
                                                "X-RateLimit-Minutely-Reset": reset_ms})
    client, _script, _, slept = api([throttled, response(200, OK)], quota=True)
    assert client.get("crm/Accounts", division=1) == OK
    assert 30 <= sum(slept) <= 32


def test_429_without_headers_waits_to_the_next_minute_with_jitter():
    client, _, _, slept = api([response(429, text="", headers={}), response(200, OK)])
    client.get("crm/Accounts", division=1)
    assert 22 <= slept[0] <= 25  # the clock is 40 s into a minute: 20 s to the boundary + 2-5 s jitter


def test_429_beyond_max_wait_is_throttled():
    client, *_ = api([response(429, text="", headers={})], max_wait=5)
    with pytest.raises(errors.Throttled):
        client.get("crm/Accounts", division=1)


@pytest.mark.parametrize("status", [408, 502, 503, 599])
def test_transient_errors_are_retried_for_gets(status):
    client, _script, _, slept = api([response(status, text="oops"), response(200, OK)], backoff=10.0)
    assert client.get("crm/Accounts", division=1) == OK
    assert slept == [10.0]


def test_html_maintenance_page_is_retried_for_gets_and_never_a_json_crash():
    page = response(200, text="<html>Onderhoud</html>", headers={"Content-Type": "text/html"})
    client, *_ = api([page, page, page, page], backoff=1.0)
    with pytest.raises(errors.BadResponse):
        client.get("crm/Accounts", division=1)


def test_posts_are_never_retried():
    client, script, *_ = api([response(503, text="")])
    with pytest.raises(errors.Unavailable):
        client.request("POST", "crm/Accounts", division=1, json={})
    assert len(script.sent) == 1


def test_connection_errors_are_unavailable_and_retried_for_gets():
    client, _script, *_ = api([errors.Unavailable("down"), response(200, OK)], backoff=0.0)
    assert client.get("crm/Accounts", division=1) == OK


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "text"),
    [
        (400, {"error": {"code": "", "message": {"lang": "", "value": "VAT\r\ninvalid"}}}, {}, errors.ValidationError,
         "VAT"),
        (403, {"error": {"message": {"value": "Forbidden"}}}, {"Reason": "WrongDivision"}, errors.Forbidden,
         "WrongDivision"),
        (404, {"error": {"message": {"value": "Not found"}}}, {}, errors.NotFound, "Not found"),
        (500, {"error": {"message": {"value": "Ongeldige referentie: Leveren aan"}}}, {}, errors.ValidationError,
         "Ongeldige referentie"),
    ],
)
def test_errors_are_typed_with_exacts_message_and_not_retried(status, body, headers, error, text):
    client, script, *_ = api([response(status, body, headers={"Content-Type": "application/json", **headers})])
    with pytest.raises(error) as caught:
        client.get("crm/Accounts", division=1)
    assert text in caught.value.message
    assert caught.value.permanent
    assert len(script.sent) == 1


def test_pages_follow_next_until_it_is_absent():
    first = response(200, {"d": {"results": [{"ID": 1}], "__next": "https://start.exactonline.nl/api/v1/1/x?$skiptoken=2"}})
    second = response(200, {"d": {"results": [{"ID": 2}]}})
    client, script, *_ = api([first, second])
    pages = list(client.iter_pages("crm/Accounts", division=1, params={"$select": "ID"}))
    assert [r["ID"] for p in pages for r in p.results] == [1, 2]
    assert script.sent[1][1] == "https://start.exactonline.nl/api/v1/1/x?$skiptoken=2"


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/api/v1/1/x?$skiptoken=2",  # another host
        "http://start.exactonline.nl/api/v1/1/x?$skiptoken=2",  # plain http on the same host
        "https://start.exactonline.nl:8443/api/v1/1/x",  # another port
        "https://start.exactonline.nl@169.254.169.254/latest/meta-data/",  # credentials trick
        "https://start.exactonline.nl.evil.example/api/v1/1/x",  # a look-alike host
    ],
)
def test_next_links_off_the_base_uri_are_refused_before_anything_is_sent(link):
    first = response(200, {"d": {"results": [{"ID": 1}], "__next": link}})
    client, script, *_ = api([first])
    pages = client.iter_pages("crm/Accounts", division=1)
    next(pages)
    with pytest.raises(errors.BadResponse) as caught:
        next(pages)
    assert caught.value.permanent and len(script.sent) == 1


def test_next_links_with_the_default_port_spelled_out_are_followed():
    first = response(200, {"d": {"results": [{"ID": 1}], "__next": "HTTPS://Start.ExactOnline.nl:443/api/v1/1/x"}})
    client, script, *_ = api([first, response(200, {"d": {"results": [{"ID": 2}]}})])
    assert len(list(client.iter_pages("crm/Accounts", division=1))) == 2 and len(script.sent) == 2


def test_error_messages_quote_exacts_message_but_no_other_body():
    client, *_ = api([response(400, text="root:x:0:0:root:/root:/bin/bash", headers={"Content-Type": "text/plain"})])
    with pytest.raises(errors.ValidationError) as caught:
        client.get("crm/Accounts", division=1)
    assert "root:x" not in caught.value.message and "text that is not JSON (31 characters, not shown)" in str(
        caught.value)
