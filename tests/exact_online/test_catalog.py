"""The entity catalog is loaded from the shipped data and knows each entity's bulk and sync counterparts."""

from __future__ import annotations

import json

from exact_online.catalog import DATA_FILE, catalog


def test_every_entity_of_the_data_file_is_loaded():
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert len(catalog()) == len(raw["entities"])
    assert {e.endpoint for e in catalog()} == {e["endpoint"] for e in raw["entities"]}


def test_lookup_by_endpoint_any_case_and_by_name_prefers_standard():
    assert catalog().get("crm/Accounts").kind == "standard"
    assert catalog().get("SYNC/crm/accounts").endpoint == "sync/CRM/Accounts"
    assert catalog().get("Accounts").endpoint == "crm/Accounts"
    assert catalog().get("NoSuchThing") is None


def test_counterparts_pair_the_same_records_only():
    accounts = catalog().get("crm/Accounts")
    assert accounts.bulk_counterpart.endpoint == "bulk/CRM/Accounts"
    assert accounts.sync_counterpart.endpoint == "sync/CRM/Accounts"
    assert accounts.sync_counterpart.standard_counterpart is accounts
    # a different business area with the same name is not a counterpart
    assert catalog().get("crm/BankAccounts").sync_counterpart is None
    assert catalog().get("financialtransaction/TransactionLines").sync_counterpart.endpoint == \
        "sync/Financial/TransactionLines"


def test_properties_types_and_default_select_never_star():
    accounts = catalog().get("crm/Accounts")
    assert accounts.get_property("modified").name == "Modified"
    assert accounts.get_property("ID").primary_key
    select = accounts.default_select
    assert "*" not in select and "ID" in select
    assert "BankAccounts" not in select  # a navigation collection is not a selectable value
    assert all(accounts.get_property(name).type.startswith("Edm.") for name in select)


def test_sync_entities_are_keyed_on_the_record_not_the_timestamp():
    sync = catalog().get("sync/CRM/Accounts")
    assert sync.primary_key == "Timestamp"
    assert sync.record_key == "ID"
    assert sync.page_size == 1000 and catalog().get("crm/Accounts").page_size == 60


def test_search_ranks_names_before_properties_and_filters_by_method():
    names = [e.endpoint for e in catalog().search("Accounts")]
    assert names[0] in ("crm/Accounts", "bulk/CRM/Accounts", "sync/CRM/Accounts")
    assert all(e.supports("POST") for e in catalog().search("account", method="POST"))
    assert catalog().search("zzzz-no-match") == []
