"""Fetching coalesced Exact changes (the HTTP layer faked at its boundary): one call per key, deletes without a
call, a record gone since its event becomes a delete, a throttled fetch waits in the database, a version
already delivered is not delivered again."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, Task
from exact_online import client_type
from exact_online.errors import NotFound, Throttled
from exact_online.models import ExactChange
from exact_online.webhooks import fetch_changes, webhook_for

pytestmark = pytest.mark.django_db
KEY = "7c3a3cf2-6a34-4f8e-9b39-0b6b0e2b4f11"


@pytest.fixture
def hook():
    client = HttpClient.objects.create(name="Exact", kind="exact_online", config={"base_url": "http://x"})
    hook = webhook_for(client, create=True)
    incoming = Incoming.objects.create(name="accounts", subscriber="exact_online", http_client=client,
                                       config={"entity": "crm/Accounts"}, query={"$select": "ID,Name"})
    outgoing = Outgoing.objects.create(name="target", publisher="fake", entity="crm/Accounts", http_client=client)
    Route.objects.create(name="accounts out", incoming=incoming, outgoing=outgoing, webhook=hook)
    return hook


def _pending(hook, key: str = KEY, action: str = "Update") -> ExactChange:
    return ExactChange.objects.create(webhook=hook, division=101001, topic="Accounts", key=key, action=action,
                                      events=3, due_at=timezone.now() - timedelta(seconds=1))


class FakeApi:
    def __init__(self, answer=None, error=None) -> None:
        self.answer, self.error, self.calls = answer, error, []

    def get(self, path, *, division, params=None):
        self.calls.append((path, division, dict(params or {})))
        if self.error is not None:
            raise self.error
        return self.answer


def _fetch(hook, api: FakeApi) -> dict[str, int]:
    with mock.patch.object(client_type, "api_for", autospec=True, return_value=api) as api_for:
        result = fetch_changes(hook.pk)
    if api_for.called:  # a worker never sleeps long for Exact's quota: the change waits in the database
        assert api_for.call_args.kwargs["max_wait"] <= 5
    return result


def test_one_call_per_key_with_the_incomings_fields_and_modified(hook):
    change = _pending(hook)
    api = FakeApi({"d": {"ID": KEY, "Name": "Shop", "Modified": "/Date(1767225600000)/",
                         "__metadata": {"uri": "x"}}})
    assert _fetch(hook, api) == {"delivered": 1}
    ((path, division, params),) = api.calls
    assert path == f"crm/Accounts(guid'{KEY}')" and division == 101001
    assert params["$select"] == "ID,Name,Modified"
    task = Task.objects.get()
    assert task.identifier == KEY and task.data == {"ID": KEY, "Name": "Shop", "Modified": "/Date(1767225600000)/"}
    change.refresh_from_db()
    assert (change.status, change.modified_ms, change.tasks_created) == ("done", 1767225600000, 1)


def test_a_delete_is_recorded_without_a_call(hook):
    _pending(hook, action="Delete")
    api = FakeApi()
    _fetch(hook, api)
    assert api.calls == []
    assert Task.objects.get().data == {"ID": KEY, "Deleted": True}


def test_a_record_gone_since_its_event_is_a_delete(hook):
    _pending(hook)
    _fetch(hook, FakeApi(error=NotFound("gone", status=404)))
    assert Task.objects.get().data == {"ID": KEY, "Deleted": True}


def test_a_throttled_fetch_waits_in_the_database(hook):
    change = _pending(hook)
    assert _fetch(hook, FakeApi(error=Throttled("rate limit", status=429))) == {"retry later": 1}
    change.refresh_from_db()
    assert change.status == "pending" and change.due_at > timezone.now() + timedelta(seconds=30)
    assert "rate limit" in change.error and not Task.objects.exists()


def test_a_version_delivered_already_is_not_delivered_again(hook):
    answer = {"d": {"ID": KEY, "Name": "Shop", "Modified": "/Date(1767225600000)/"}}
    _pending(hook)
    _fetch(hook, FakeApi(answer))
    late = _pending(hook)  # Exact's late retry of the same change
    _fetch(hook, FakeApi(answer))
    late.refresh_from_db()
    assert late.status == "skipped" and Task.objects.count() == 1


def test_a_topic_no_route_reads_fails_with_a_reason(hook):
    change = ExactChange.objects.create(webhook=hook, division=101001, topic="Items", key=KEY,
                                        due_at=timezone.now() - timedelta(seconds=1))
    _fetch(hook, FakeApi())
    change.refresh_from_db()
    assert change.status == "failed" and "reads Items" in change.error
