"""The access-event contract's fields, and the checks that word each error.

The values and sets the contract allows, shared by ``parse_event``'s checked
path and the rest of the core; the helpers below run only on the unhappy or
unusual path, so each can afford to look closely at what it was sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from detector.errors import InvalidRecord
from detector.wire.jsontext import MAX_DEPTH, _deeper_than

ACTIONS = frozenset(
    {
        "login", "logout", "view", "search", "report_run", "export", "download",
        "print", "bulk_api", "create", "update", "delete", "share",
    }
)
# Actions that move customer data out of the CRM.
DATA_OUT_ACTIONS = frozenset({"export", "download", "print", "bulk_api"})
TIERS = ("high", "medium", "low")
CHANNELS = ("web", "mobile", "api", "integration")
# The schema's order, for readable error messages.
ACTION_ORDER = (
    "login", "logout", "view", "search", "report_run", "export", "download",
    "print", "bulk_api", "create", "update", "delete", "share",
)

# A schema integer may be arbitrarily large; scores only need to know "huge".
MAX_COUNT = 10**9
ID_MAX_LENGTH = 128

_TIER_SET = frozenset(TIERS)
_CHANNEL_SET = frozenset(CHANNELS)
_EVENT_KEYS = frozenset(
    {
        "event_id", "timestamp", "employee_id", "action", "object_type", "record_count",
        "customers", "territories", "tiers", "source_ip", "device_id", "geo", "session_id",
        "channel", "bytes",
    }
)
_GEO_KEYS = frozenset({"country", "city", "lat", "lon"})
_CUSTOMER_KEYS = frozenset({"id", "territory", "tier"})
# What each optional field must be, for the message when it is sent as null.
_EXPECTED = {
    "object_type": "a string",
    "record_count": "an integer >= 0",
    "customers": "an array",
    "territories": "an object",
    "tiers": "an object",
    "source_ip": "a string",
    "device_id": "a string",
    "geo": "an object",
    "session_id": "a string",
    "channel": "one of " + ", ".join(CHANNELS),
    "bytes": "an integer >= 0",
    "country": "a string",
    "city": "a string",
    "lat": "a number between -90 and 90",
    "lon": "a number between -180 and 180",
    "id": "a string",
    "territory": "a string",
    "tier": "one of " + ", ".join(TIERS),
}



# --------------------------------------------------------------------------
# field checks (only reached on the unhappy or unusual path)


def _required(doc: dict[str, Any], name: str, problem: str) -> InvalidRecord:
    if name not in doc:
        return InvalidRecord(name, "missing required field", "missing_field")
    if not isinstance(doc[name], str):
        return InvalidRecord(name, "must be a string", "wrong_type")
    return InvalidRecord(name, problem, "bad_length")


def _count(name: str, value: Any) -> int:
    """A schema ``integer >= 0`` that is not a plain in-range int: convert, clamp or reject."""
    problem = "must be an integer >= 0"
    if isinstance(value, bool):
        raise InvalidRecord(name, problem + ", not a boolean", "wrong_type")
    if isinstance(value, int):
        if value < 0:
            raise InvalidRecord(name, problem, "out_of_range")
        return value if value <= MAX_COUNT else MAX_COUNT
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidRecord(name, problem, "wrong_type")
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise InvalidRecord(name, problem, "wrong_type")
    else:
        raise InvalidRecord(name, problem, "wrong_type")
    if value < 0:
        raise InvalidRecord(name, problem, "out_of_range")
    return MAX_COUNT if value > MAX_COUNT else int(value)


def _number(name: str, value: Any, low: int, high: int) -> float:
    problem = f"must be a number between {low} and {high}"
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidRecord(name, problem, "wrong_type")
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidRecord(name, problem, "out_of_range")
    if not low <= value <= high:
        raise InvalidRecord(name, problem, "out_of_range")
    return float(value)


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> InvalidRecord:
    if not isinstance(value, str):
        return InvalidRecord(name, "must be a string, one of " + ", ".join(allowed), "wrong_type")
    return InvalidRecord(name, "must be one of " + ", ".join(allowed), "bad_enum")


def _not_string(name: str) -> InvalidRecord:
    return InvalidRecord(name, "must be a string", "wrong_type")


def _extra(doc: dict[str, Any], known: frozenset[str], prefix: str, depth: int) -> None:
    """Check what the counted fields did not cover: nulls in known fields, deep unknown ones.

    ``depth`` is the nesting level of this object's values (the document is level 1).
    """
    for k, v in doc.items():
        if k in known:
            if v is None:
                raise InvalidRecord(prefix + k, f"must be {_EXPECTED[k]}, not null", "wrong_type")
        elif isinstance(v, (dict, list)) and _deeper_than(v, MAX_DEPTH - depth + 1):
            raise InvalidRecord("$", f"is nested deeper than {MAX_DEPTH} levels", "too_deep")


def _key_path(name: str, key: str) -> str:
    return f"{name}.{key[:64]}…" if len(key) > 64 else f"{name}.{key}"


def _counts(name: str, obj: dict[str, Any]) -> tuple[dict[str, int], int]:
    """A ``{key: integer >= 0}`` object with some unusual count: checked, clamped, summed."""
    fixed = {key: _count(_key_path(name, key), n) for key, n in obj.items()}
    return fixed, sum(fixed.values())


def _index(items: list[Any], item: Any) -> int:
    for i, x in enumerate(items):
        if x is item:
            return i
    return -1


def _customer_error(customers: list[Any], item: Any) -> InvalidRecord:
    path = f"customers[{_index(customers, item)}]"
    if not isinstance(item, dict):
        return InvalidRecord(path, "must be an object", "wrong_type")
    if "id" not in item:
        return InvalidRecord(path + ".id", "missing required field", "missing_field")
    if not isinstance(item["id"], str):
        return InvalidRecord(path + ".id", "must be a string", "wrong_type")
    territory = item.get("territory")
    if territory is not None and not isinstance(territory, str):
        return InvalidRecord(path + ".territory", "must be a string", "wrong_type")
    return _enum(path + ".tier", item.get("tier"), TIERS)


def _customer_extra(customers: list[Any], item: dict[str, Any]) -> None:
    _extra(item, _CUSTOMER_KEYS, f"customers[{_index(customers, item)}].", 4)
