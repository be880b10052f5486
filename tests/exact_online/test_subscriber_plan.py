"""Where the Exact Online Subscriber sends a read: sync whenever it carries the fields (full reads too, so they
leave a Timestamp cursor), bulk for full reads it does not carry, $select always."""

from __future__ import annotations

import pytest

from clients.models import HttpClient, OAuthGrant
from connections.models import Incoming
from connections.subscribers import ReadError
from exact_online.cursors import cursor_view, date_ms, ms_literal
from exact_online.models import ExactAccess
from exact_online.subscriber import ExactSubscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with_grant():
    client = HttpClient.objects.create(name="Exact", kind="exact_online",
                                       config={"base_url": "http://sandbox.test", "client_id": "x"})
    OAuthGrant.objects.create(client=client)
    ExactAccess.objects.create(client=client, default_division=111, current_division=111,
                               divisions=[{"code": 111}, {"code": 222}])
    return client


def make(client, entity="crm/Accounts", *, incremental=False, query=None, endpoint="auto", divisions="default",
         codes=(), path=None):
    return Incoming(name="t", subscriber="exact_online", http_client=client, incremental=incremental,
                    query=query or {}, path=path or {},
                    config={"entity": entity, "endpoint": endpoint, "divisions": divisions,
                            "division_codes": list(codes)})


def test_full_read_goes_to_sync_with_every_property_selected(client_with_grant):
    plan = ExactSubscriber(make(client_with_grant)).plan(111)
    assert plan.entity.endpoint == "sync/CRM/Accounts" and "leaves a Timestamp cursor" in plan.reason
    assert plan.cursor_kind == "timestamp" and plan.ordered  # its last page's Timestamp becomes the cursor
    selected = plan.params["$select"].split(",")
    assert "*" not in selected and "ID" in selected and "Modified" in selected
    assert set(selected) == set(plan.entity.default_select)


def test_incremental_read_goes_to_sync_with_a_timestamp_cursor(client_with_grant):
    sub = ExactSubscriber(make(client_with_grant, incremental=True))
    first = sub.plan(111)
    assert first.entity.endpoint == "sync/CRM/Accounts"
    assert first.params["$filter"] == "Timestamp gt 1L"
    later = sub.plan(111, cursor={"kind": "timestamp", "value": "12345", "seen_keys": []})
    assert later.params["$filter"] == "Timestamp gt 12345L"
    assert "Timestamp" in later.params["$select"].split(",")


def test_selected_fields_the_bulk_endpoint_lacks_go_to_sync_and_without_counterparts_to_standard(client_with_grant):
    accounts = ExactSubscriber(make(client_with_grant)).entity
    not_in_bulk = next(p.name for p in accounts.properties if p.is_scalar
                       and not accounts.bulk_counterpart.has_property(p.name)
                       and accounts.sync_counterpart.has_property(p.name))
    plan = ExactSubscriber(make(client_with_grant, query={"$select": f"ID,Name,{not_in_bulk}"})).plan(111)
    assert plan.entity.endpoint == "sync/CRM/Accounts"
    assert plan.params["$select"].startswith(f"ID,Name,{not_in_bulk}")
    plain = ExactSubscriber(make(client_with_grant, entity="crm/BankAccounts")).plan(111)
    assert plain.entity.endpoint == "crm/BankAccounts"


def test_a_pinned_endpoint_is_used_as_is(client_with_grant):
    plan = ExactSubscriber(make(client_with_grant, endpoint="standard")).plan(111)
    assert plan.entity.endpoint == "crm/Accounts"
    with pytest.raises(ReadError, match="no bulk endpoint"):
        ExactSubscriber(make(client_with_grant, entity="crm/BankAccounts", endpoint="bulk")).plan(111)


def test_modified_cursor_uses_ge_and_combines_with_the_users_filter(client_with_grant):
    sub = ExactSubscriber(make(client_with_grant, incremental=True, endpoint="standard",
                               query={"$filter": "Blocked eq false"}))
    ms = date_ms("/Date(1704067200000)/")
    plan = sub.plan(111, cursor={"kind": "modified", "value": str(ms), "seen_keys": ["a"]})
    assert plan.entity.endpoint == "crm/Accounts"
    assert plan.params["$filter"] == "(Blocked eq false) and Modified ge datetime'2024-01-01T00:00:00.000'"


def test_request_hook_sees_the_cursor_and_can_write_the_filter(client_with_grant):
    seen = {}

    def hook(request):
        seen.update(request)
        return {**request, "query": {**request["query"], "$filter": request["cursor"]["filter"]}}

    sub = ExactSubscriber(make(client_with_grant, endpoint="standard"))
    plan = sub.plan(111, cursor={"kind": "modified", "value": "1704067200000", "seen_keys": []}, request_hook=hook)
    assert seen["path"] == {"division": 111}
    assert plan.params["$filter"] == "Modified ge datetime'2024-01-01T00:00:00.000'"


def test_divisions_fan_out_over_default_selected_all_or_the_path(client_with_grant):
    assert ExactSubscriber(make(client_with_grant)).divisions() == [111]
    assert ExactSubscriber(make(client_with_grant, divisions="all")).divisions() == [111, 222]
    assert ExactSubscriber(make(client_with_grant, divisions="selected", codes=[7, 8])).divisions() == [7, 8]
    assert ExactSubscriber(make(client_with_grant, path={"division": "9"})).divisions() == [9]
    with pytest.raises(ReadError, match="No division"):
        ExactSubscriber(make(None)).divisions()


def test_preview_url_is_the_final_request(client_with_grant):
    url = ExactSubscriber(make(client_with_grant, query={"$top": "5"})).preview_url()
    assert url.startswith("http://sandbox.test/api/v1/111/sync/CRM/Accounts?")
    assert "%24top=5" in url or "$top=5" in url


def test_cursor_literals_keep_exacts_wall_clock():
    assert ms_literal(1704067200000) == "datetime'2024-01-01T00:00:00.000'"
    assert cursor_view({"kind": "timestamp", "value": "77", "seen_keys": []})["filter"] == "Timestamp gt 77L"
    assert cursor_view(None) is None


def test_auto_keeps_to_endpoints_that_carry_the_filtered_properties(client_with_grant):
    accounts = ExactSubscriber(make(client_with_grant)).entity
    not_in_bulk = next(p.name for p in accounts.properties if p.type == "Edm.String"
                       and not accounts.bulk_counterpart.has_property(p.name)
                       and accounts.sync_counterpart.has_property(p.name))
    plan = ExactSubscriber(make(client_with_grant, query={"$select": "ID,Name",
                                                          "$filter": f"{not_in_bulk} eq 'x'"})).plan(111)
    assert plan.entity.endpoint == "sync/CRM/Accounts"
    assert ExactSubscriber(make(client_with_grant, query={"$select": "ID,Name"})).plan(111).entity.kind == "sync"


def test_a_full_read_the_sync_endpoint_cannot_serve_goes_to_bulk_and_says_why(client_with_grant):
    from exact_online.catalog import catalog

    for entity in catalog():
        bulk, sync = entity.bulk_counterpart, entity.sync_counterpart
        lacking = [name for name in (bulk.default_select if bulk and sync else [])
                   if not sync.has_property(name) and entity.has_property(name)]
        if lacking:
            break
    else:
        pytest.fail("no entity whose bulk endpoint carries a field its sync endpoint lacks")
    plan = ExactSubscriber(make(client_with_grant, entity=entity.endpoint,
                                query={"$select": lacking[0]})).plan(111)
    assert plan.entity.kind == "bulk"
    assert "the sync endpoint does not carry the selected fields" in plan.reason
