"""HTTP lookup (with a fake provider), Storage get / save and Filter previously stored entities."""

from __future__ import annotations

import pytest

from connections.transformers import (
    Context,
    InMemoryStorage,
    ServiceError,
    TransformError,
    register_lookup_provider,
    unregister_lookup_provider,
)

from .helpers import one, run, step

LOOKUP = step(
    "http_lookup",
    http_client=3,
    path="crm/Accounts",
    query={"$filter": "Code eq '&{Code}'", "$select": "ID"},
    result="d.results[0].ID",
    target="AccountID",
)


class FakeExact:
    def __init__(self):
        self.calls = []

    def __call__(self, client, request):
        self.calls.append((client, request))
        code = request["query"]["$filter"].split("'")[1]
        if code == "boom":
            raise ServiceError("Exact answered 401")
        return {"d": {"results": [{"ID": f"guid-{code}"}] if code != "none" else []}}


def test_http_lookup_through_the_context_provider_with_cache():
    fake = FakeExact()
    context = Context(lookup=fake)
    assert one([LOOKUP], {"Code": "C1"}, context)["AccountID"] == "guid-C1"
    assert one([LOOKUP], {"Code": "C1"}, context)["AccountID"] == "guid-C1"
    assert len(fake.calls) == 1
    client, request = fake.calls[0]
    assert client == 3 and request == {
        "method": "GET",
        "path": "crm/Accounts",
        "query": {"$filter": "Code eq 'C1'", "$select": "ID"},
        "body": None,
    }


def test_http_lookup_not_found_and_provider_errors():
    context = Context(lookup=FakeExact())
    with pytest.raises(TransformError) as info:
        one([LOOKUP], {"Code": "none"}, context)
    assert info.value.path == "AccountID" and "found nothing" in info.value.message
    with pytest.raises(TransformError, match="401"):
        one([LOOKUP], {"Code": "boom"}, context)
    lenient = dict(LOOKUP, params={**LOOKUP["params"], "when_missing": "skip"})
    assert run([lenient], {"Code": "none"}, context).skipped_reason


def test_http_lookup_uses_the_registered_provider_and_says_when_there_is_none(monkeypatch):
    from connections.transformers import services

    monkeypatch.setattr(services, "_lookup_providers", [])  # without the platform's (connections.lookups)
    with pytest.raises(TransformError, match="no lookup provider configured"):
        one([LOOKUP], {"Code": "C1"}, Context())
    fake = FakeExact()
    register_lookup_provider(fake)
    try:
        assert one([LOOKUP], {"Code": "C2"}, Context())["AccountID"] == "guid-C2"
    finally:
        unregister_lookup_provider(fake)


def test_storage_save_then_get_with_missing_modes():
    context = Context(storage=InMemoryStorage())
    one([step("storage_save", store="accounts", key="acc-&{Code}", source="ID")], {"Code": "C1", "ID": "g1"}, context)
    assert one([step("storage_get", store="accounts", key="acc-&{Code}", target="ID")], {"Code": "C1"}, context) == {
        "Code": "C1",
        "ID": "g1",
    }
    assert one([step("storage_get", store="accounts", key="acc-&{Code}", target="ID")], {"Code": "C9"}, context) == {
        "Code": "C9",
        "ID": None,
    }
    assert one(
        [step("storage_get", store="accounts", key="x", target="ID", when_missing="default", default=0)], {}, context
    ) == {"ID": 0}
    with pytest.raises(TransformError, match="nothing stored under 'x'"):
        one([step("storage_get", store="accounts", key="x", target="ID", when_missing="fail")], {}, context)
    with pytest.raises(TransformError, match=r"is empty for this entity"):
        one([step("storage_get", store="accounts", key="&{Code}", target="ID")], {}, context)


def test_storage_ttl_expires():
    now = [1000.0]
    storage = InMemoryStorage(clock=lambda: now[0])
    context = Context(storage=storage)
    one([step("storage_save", store="s", key="k", ttl=60)], {"a": 1}, context)
    assert one([step("storage_get", store="s", key="k", target="v")], {}, context) == {"v": {"a": 1}}
    now[0] += 61
    assert one([step("storage_get", store="s", key="k", target="v")], {}, context) == {"v": None}


def test_storage_steps_without_storage_fail_clearly():
    with pytest.raises(TransformError, match="no storage configured"):
        one([step("storage_save", store="s", key="k")], {}, Context())


SKIP = step("skip_unchanged", store="seen", key="&{ID}")


def test_skip_unchanged_lets_new_and_changed_entities_through_only():
    context = Context(storage=InMemoryStorage())
    assert run([SKIP], {"ID": 1, "Name": "a"}, context).entities
    assert run([SKIP], {"Name": "a", "ID": 1}, context).skipped_reason  # key order does not matter
    assert run([SKIP], {"ID": 1, "Name": "b"}, context).entities
    assert run([SKIP], {"ID": 2, "Name": "b"}, context).entities


def test_skip_unchanged_on_chosen_fields_and_deferred_recording():
    context = Context(storage=InMemoryStorage())
    by_name = step("skip_unchanged", store="seen", key="&{ID}", fields=["Name"], reason="&{ID} unchanged")
    assert run([by_name], {"ID": 1, "Name": "a", "Modified": 1}, context).entities
    assert run([by_name], {"ID": 1, "Name": "a", "Modified": 2}, context).skipped_reason == "1 unchanged"
    deferred = step("skip_unchanged", store="seen2", key="&{ID}", record="deferred")
    first = run([deferred], {"ID": 1}, context)
    assert first.entities and first.deferred[0]["store"] == "seen2"
    assert run([deferred], {"ID": 1}, context).entities  # not recorded until the platform commits it
