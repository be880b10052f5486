"""Keys and filter values are written the way Exact reads them, for every key type in the catalog."""

from __future__ import annotations

import pytest

from exact_online.catalog import catalog
from exact_online.odata import filter_literal, key_path, literal


@pytest.mark.parametrize(("value", "type_name", "expected"), [
    ("5a1f0c1e-0000-4000-8000-000000000001", "Edm.Guid", "guid'5a1f0c1e-0000-4000-8000-000000000001'"),
    ("42", "Edm.Int32", "42"),
    (42, "Edm.Int64", "42L"),
    ("O'Brien", "Edm.String", "'O''Brien'"),
    (7, None, "7"),
])
def test_literal_per_type(value: object, type_name: str | None, expected: str) -> None:
    assert literal(value, type_name) == expected


def test_key_path_follows_the_entity_key_type() -> None:
    accounts = catalog()["crm/Accounts"]
    assert key_path(accounts, "5a1f0c1e-0000-4000-8000-000000000001") == (
        "crm/Accounts(guid'5a1f0c1e-0000-4000-8000-000000000001')")
    int_keyed = next(e for e in catalog() if e.kind == "standard" and e.primary_key_type == "Edm.Int32")
    assert key_path(int_keyed, "17") == f"{int_keyed.endpoint}(17)"  # not '17': Exact refuses a quoted number


def test_account_codes_are_compared_padded_as_exact_stores_them() -> None:
    assert filter_literal(catalog()["crm/Accounts"], "Code", "42") == "'" + "42".rjust(18) + "'"
