"""Value conversion at the sandbox's edge: JSON in (ISO or ``/Date(ms)/``) -> stored values -> JSON out.

Stored: ``Edm.DateTime`` as integer milliseconds of Exact's wall clock (Europe/Amsterdam, kept as if UTC,
which is how ``/Date(ms)/`` values behave, API.md §4.4), GUIDs lower case, numbers as numbers.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from .catalog import Endpoint, Property
from .http import ApiError
from .odata import ODataError, iso_to_ms
from .store import clock

__all__ = ["coerce", "exact_now", "exact_now_ms", "render_value", "utc_offset_seconds"]

_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_INT_TYPES = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte"}


def _tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "SANDBOX_WALL_CLOCK_TZ", "Europe/Amsterdam"))


def exact_now() -> datetime:
    """Now on Exact's wall clock (naive local time of the administration)."""
    return datetime.fromtimestamp(clock.now(), UTC).astimezone(_tz()).replace(tzinfo=None)


def exact_now_ms() -> int:
    return int((exact_now() - datetime(1970, 1, 1)).total_seconds() * 1000)


def utc_offset_seconds() -> int:
    offset = datetime.fromtimestamp(clock.now(), UTC).astimezone(_tz()).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _bad(prop: Property, ep: Endpoint) -> ApiError:
    return ApiError(400, f"Error processing request stream. Cannot convert the value of property '{prop.name}' "
                         f"to the expected type '{prop.type}' on type '{ep.type_name}'.")


def coerce(ep: Endpoint, prop: Property, value: Any) -> Any:
    """A JSON value from a POST/PUT body -> the stored value; Exact's 400 when it does not fit the type."""
    if value is None:
        return None
    kind = prop.type
    try:
        if kind == "Edm.DateTime":
            if isinstance(value, int | float):
                return int(value)
            text = str(value)
            match = _DATE_RE.match(text)
            if match:
                return int(match.group(1))
            return iso_to_ms(text)
        if kind == "Edm.Guid":
            return str(uuid.UUID(str(value).strip("{}")))
        if kind in _INT_TYPES:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise _bad(prop, ep)
            return int(value)
        if kind in {"Edm.Double", "Edm.Decimal", "Edm.Single"}:
            if isinstance(value, bool):
                raise _bad(prop, ep)
            return float(value)
        if kind == "Edm.Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in {"true", "false"}:
                return str(value).lower() == "true"
            raise _bad(prop, ep)
        if kind == "Edm.String":
            if isinstance(value, dict | list):
                raise _bad(prop, ep)
            return str(value)
    except (ValueError, TypeError, ODataError) as exc:
        raise _bad(prop, ep) from exc
    return value


def render_value(prop: Property | None, value: Any) -> Any:
    if value is None or prop is None:
        return value
    if prop.type == "Edm.DateTime" and isinstance(value, int):
        return f"/Date({value})/"
    return value
