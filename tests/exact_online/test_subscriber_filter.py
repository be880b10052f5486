"""The $filter validator refuses what Exact would refuse, before any call."""

from __future__ import annotations

import pytest

from exact_online.catalog import catalog
from exact_online.odata_filter import FilterError, validate_filter

ACCOUNTS = catalog().get("crm/Accounts")


def lookup(name):
    prop = ACCOUNTS.get_property(name)
    return prop.type if prop else None


@pytest.mark.parametrize("text", [
    "Name eq 'Acme'",
    "Modified ge datetime'2024-01-01T00:00:00' and (Blocked eq false or Status eq 'C')",
    "trim(Code) eq '25'",
    "substringof('bv', Name)",
    "ID eq guid'40d4c49d-1790-4a13-b890-42909af24348'",
    "Name eq 'O''Brien'",
    "not (Blocked eq true)",
])
def test_valid_filters_pass_and_name_their_properties(text):
    used = validate_filter(text, lookup)
    assert used and all(ACCOUNTS.has_property(name) for name in used)


@pytest.mark.parametrize(("text", "reason"), [
    ("Foo eq 1", "Unknown property 'Foo'"),
    ("Name eq 'Acme", "Unbalanced quote"),
    ("(Name eq 'Acme'", "Unbalanced parentheses"),
    ("Name eq 'Acme')", "Unbalanced parentheses"),
    ("ID eq 'abc'", "is a Guid"),
    ("ID eq guid'not-a-guid'", "not a valid guid"),
    ("Modified gt datetime'2024-01-01'", "time part"),
    ("Modified gt datetime'2024-13-01T00:00:00'", "not a valid datetime"),
    ("Name eq Code", "cannot compare two fields"),
    ("Name", "Expected a comparison"),
    ("Name eq", "ends too early"),
    ("Blocked eq 'yes'", "Boolean"),
    ("frobnicate(Name) eq 'x'", "Unknown function"),
])
def test_bad_filters_are_refused_with_the_reason(text, reason):
    with pytest.raises(FilterError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        validate_filter(text, lookup)
