"""The Exact Online Publisher never duplicates a create, and classifies Exact's errors (unit: a fake HTTP layer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from connections.publishers import PublishError, PublishJob
from connections.waits import WaitUntil
from exact_online import errors
from exact_online import publisher as publisher_module
from exact_online.api import is_validation_text
from exact_online.publisher import ExactOnlinePublisher

NEW_ID = "11111111-2222-3333-4444-555555555555"


@dataclass
class FakeApi:
    """Scripted answers per method; records every call. A list entry that is an exception is raised."""

    answers: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def _next(self, method: str) -> Any:
        queue = self.answers.get(method) or []
        answer = queue.pop(0) if queue else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def request(self, method: str, path: str, *, division: int | None, params: Any = None, json: Any = None,
                retry_transient: bool = True) -> Any:
        self.calls.append((method, path, json if json is not None else params))
        body = self._next(method)
        status = 201 if method == "POST" else (200 if method == "GET" else 204)
        return SimpleNamespace(status=status, body=body, headers={}, text="")

    def get(self, path: str, *, division: int | None, params: Any = None) -> Any:
        self.calls.append(("GET", path, params))
        return self._next("GET") or {"d": {"results": []}}

    def methods(self) -> list[str]:
        return [call[0] for call in self.calls]


def make_job(api: FakeApi, monkeypatch: pytest.MonkeyPatch, *, action: str = "create",
             payload: dict[str, Any] | None = None, maybe_published: bool = False,
             mapped: str | None = None, config: dict[str, Any] | None = None) -> PublishJob:
    monkeypatch.setattr(publisher_module, "_api_for", lambda _client: api)
    outgoing = SimpleNamespace(entity="crm/Accounts", action=action, http_client=SimpleNamespace(default_division=7))
    return PublishJob(
        outgoing=outgoing, path={"division": 123}, query={}, payload=payload or {"Name": "Acme"}, source_id="src-1",
        reference="EDABCDEFGH", attempt=2 if maybe_published else 1, maybe_published=maybe_published,
        lookup_target=lambda _source: mapped,
        config=config if config is not None else {"reference_field": "SearchCode"},
    )


def test_create_writes_the_reference_and_remembers_the_new_key(monkeypatch):
    api = FakeApi({"POST": [{"d": {"ID": NEW_ID, "Name": "Acme"}}]})
    result = ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert api.methods() == ["POST"]
    assert api.calls[0][2] == {"Name": "Acme", "SearchCode": "EDABCDEFGH"}
    assert result.external_key == NEW_ID
    assert result.remember == ("src-1", NEW_ID)


def test_a_lost_answer_is_looked_up_and_not_posted_again(monkeypatch):
    api = FakeApi({
        "POST": [errors.Unavailable("connection closed", status=None)],
        "GET": [{"d": {"results": [{"ID": NEW_ID}]}}],
    })
    result = ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert api.methods() == ["POST", "GET"]
    assert "SearchCode eq 'EDABCDEFGH'" in api.calls[1][2]["$filter"]
    assert result.external_key == NEW_ID


def test_a_lost_answer_that_did_not_go_through_waits_for_exact_without_spending_an_attempt(monkeypatch, settings):
    settings.EXACT_OUTAGE_WAIT = 30.0
    api = FakeApi({"POST": [errors.Unavailable("504 Gateway Timeout", status=504)], "GET": [{"d": {"results": []}}]})
    before = timezone.now()
    with pytest.raises(WaitUntil) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert api.methods() == ["POST", "GET"]
    wait = caught.value
    assert wait.reason == "Exact Online unavailable for division 123 (HTTP 504)"
    assert 30 <= (wait.until - before).total_seconds() <= 37
    assert wait.request is not None and wait.request["method"] == "POST"  # the next attempt looks first...
    assert wait.counted is False  # ...but waiting for Exact is not an attempt


@pytest.mark.parametrize("error", [errors.Unavailable("could not connect", status=None),
                                   errors.Unavailable("Service Unavailable", status=503),
                                   errors.Unauthorized("401 on a fresh token", status=401)],
                         ids=["no-answer", "503", "401-blip"])
def test_an_outage_before_anything_was_written_waits_without_a_request(monkeypatch, error):
    api = FakeApi({"GET": [error]})
    with pytest.raises(WaitUntil) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch, maybe_published=True))  # its look-up meets it
    assert caught.value.request is None and caught.value.counted is False
    assert "division 123" in caught.value.reason


def test_a_plain_500_is_an_answer_and_counts_as_an_attempt(monkeypatch):
    api = FakeApi({"POST": [errors.Unavailable("Internal Server Error", status=500)], "GET": [{"d": {"results": []}}]})
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert caught.value.permanent is False


def test_an_attempt_that_may_have_been_published_looks_first(monkeypatch):
    api = FakeApi({"GET": [{"d": {"results": [{"ID": NEW_ID}]}}]})
    result = ExactOnlinePublisher().publish(make_job(api, monkeypatch, maybe_published=True))
    assert api.methods() == ["GET"]
    assert result.external_key == NEW_ID


def test_validation_errors_are_permanent_with_exacts_message(monkeypatch):
    api = FakeApi({"POST": [errors.ValidationError("Invalid: Email []", status=400)]})
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert caught.value.permanent is True
    assert caught.value.message == "Invalid: Email []"
    assert api.methods() == ["POST"]  # no look-up, no retry: a 400 was an answer


def test_a_dutch_validation_500_is_permanent_even_if_the_layer_called_it_unavailable(monkeypatch):
    message = "Ongeldige referentie: Leveren aan"
    assert is_validation_text(message)
    api = FakeApi({"POST": [errors.Unavailable(message, status=500)], "GET": [{"d": {"results": []}}]})
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert caught.value.permanent is True
    assert message in caught.value.message


def test_throttling_is_transient(monkeypatch):
    api = FakeApi({"POST": [errors.Throttled("rate limit", status=429)]})
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch))
    assert caught.value.permanent is False


def test_unknown_properties_are_refused_before_any_call(monkeypatch):
    api = FakeApi()
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch, payload={"Name": "x", "Nmae": "typo"}))
    assert caught.value.permanent is True
    assert "Nmae" in caught.value.message
    assert api.calls == []


def test_missing_mandatory_properties_are_refused_before_any_call(monkeypatch):
    api = FakeApi()
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch, payload={"City": "Delft"}))
    assert "Name" in caught.value.message
    assert api.calls == []


def test_upsert_updates_the_mapped_record(monkeypatch):
    api = FakeApi({"PUT": [None]})
    result = ExactOnlinePublisher().publish(make_job(api, monkeypatch, action="upsert", mapped=NEW_ID))
    assert api.methods() == ["PUT"]
    assert api.calls[0][1] == f"crm/Accounts(guid'{NEW_ID}')"
    assert result.external_key == NEW_ID


def test_upsert_creates_again_when_the_mapped_record_is_gone(monkeypatch):
    other = "99999999-2222-3333-4444-555555555555"
    api = FakeApi({"PUT": [errors.NotFound("not found", status=404)], "POST": [{"d": {"ID": other}}]})
    result = ExactOnlinePublisher().publish(make_job(api, monkeypatch, action="upsert", mapped=NEW_ID))
    assert api.methods() == ["PUT", "POST"]
    assert result.external_key == other
    assert result.remember == ("src-1", other)


def test_upsert_finds_by_key_before_creating(monkeypatch):
    api = FakeApi({"GET": [{"d": {"results": [{"ID": NEW_ID}]}}], "PUT": [None]})
    job = make_job(api, monkeypatch, action="upsert", payload={"Name": "Acme", "Code": "42"},
                   config={"reference_field": "SearchCode", "upsert_key": "Code"})
    result = ExactOnlinePublisher().publish(job)
    assert api.methods() == ["GET", "PUT"]
    assert api.calls[0][2]["$filter"] == "Code eq '" + "42".rjust(18) + "'"  # Exact pads account codes
    assert result.external_key == NEW_ID


def test_update_without_any_key_fails_permanently(monkeypatch):
    api = FakeApi()
    with pytest.raises(PublishError) as caught:
        ExactOnlinePublisher().publish(make_job(api, monkeypatch, action="update"))
    assert caught.value.permanent is True
    assert api.calls == []


def test_a_retried_delete_of_a_gone_record_is_done(monkeypatch):
    api = FakeApi({"DELETE": [errors.NotFound("not found", status=404)]})
    result = ExactOnlinePublisher().publish(
        make_job(api, monkeypatch, action="delete", mapped=NEW_ID, maybe_published=True))
    assert result.external_key == NEW_ID
    assert result.forget == "src-1"
