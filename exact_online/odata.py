"""How a value is written in an Exact Online URL: keys in a path, values in a ``$filter``.

One reading for the publisher (keys, look-ups by reference or upsert key), the batch look-up and the webhook fetch.
"""

from __future__ import annotations

from typing import Any

from .catalog import Entity

__all__ = ["PADDED_CODES", "filter_literal", "key_path", "literal", "matchable"]

# Exact stores these codes right-aligned in 18 characters (API.md §4.3): ``Code eq '42'`` finds nothing, the
# padded literal finds it (and keeps Exact's index, unlike ``trim(Code)``).
PADDED_CODES = {("crm/accounts", "Code"): 18}


def literal(value: Any, type_name: str | None) -> str:
    """An OData literal for a key or filter value of the property type ``type_name``."""
    if type_name == "Edm.Guid":
        return f"guid'{value}'"
    if type_name == "Edm.Int64":
        return f"{int(value)}L"  # whether the value came as 42 or "42"
    if type_name in {"Edm.Int32", "Edm.Int16", "Edm.Byte"} or (isinstance(value, int) and type_name != "Edm.String"):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def key_path(entity: Entity, key: Any) -> str:
    """The path of one record of ``entity``: ``crm/Accounts(guid'…')``."""
    return f"{entity.endpoint}({literal(key, entity.primary_key_type)})"


def filter_literal(entity: Entity, field: str, value: Any) -> str:
    """The OData literal to compare ``field`` of ``entity`` with ``value``, as Exact stores it."""
    prop = entity.get_property(field)
    width = PADDED_CODES.get((entity.endpoint.lower(), field))
    if width and isinstance(value, str | int) and str(value).strip():
        value = str(value).strip().rjust(width)
    return literal(value, prop.type if prop else "Edm.String")


def matchable(value: Any) -> str:
    """A value as compared between a payload and Exact's answer (Exact pads codes with spaces, ignores case)."""
    return str(value).strip().casefold()
