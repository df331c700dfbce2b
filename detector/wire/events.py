"""CRM access events: the normalised form the core scores.

See ``shared/contract/access-event.schema.json`` for the wire contract.
:func:`parse_event` is the only way in: it checks a document against that
schema field by field and raises :class:`InvalidRecord` for anything else, so
a bad record can become a reject or dead letter instead of a crash.  It runs
once per event, which is why the happy path avoids exceptions, regexes and
copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from detector.errors import InvalidRecord
from detector.wire.jsontext import MAX_DEPTH, _decode_error, _deeper_than, load_object
from detector.wire.times import _HOUR_BASE, _MIN_SEC, _OFFSETS, parse_timestamp

_loads = orjson.loads

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


@dataclass(slots=True)
class Event:
    """One validated, normalised access event.

    ``territories`` and ``tiers`` are record counts per territory / tier: taken
    from the event's own ``territories``/``tiers`` objects when present
    (they win), otherwise counted from ``customers``.  ``customer_ids`` exists
    only for distinct-customer counting inside the core and never leaves it.
    """

    event_id: str
    ts: float  # seconds since the epoch, UTC
    timestamp: str  # as sent, for echoing in actions
    employee_id: str
    action: str
    data_out: bool
    record_count: int
    object_type: str | None = None
    territories: dict[str, int] | None = None
    tiers: dict[str, int] | None = None
    customer_ids: tuple[str, ...] = ()
    source_ip: str | None = None
    device_id: str | None = None
    country: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    session_id: str | None = None
    channel: str | None = None
    bytes: int | None = None


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


# --------------------------------------------------------------------------
# the event


def parse_event(
    raw: bytes | bytearray | memoryview | str | dict[str, Any], *, max_bytes: int = 65536
) -> Event:
    """Validate one access-event document against the contract and normalise it.

    Raises :class:`InvalidRecord` (and nothing else) naming the first field at
    fault; messages never include field values.
    """
    if type(raw) is bytes and len(raw) <= max_bytes:
        try:
            d = _loads(raw)
        except orjson.JSONDecodeError as exc:
            d = _decode_error(raw, exc)
        if type(d) is not dict:
            raise InvalidRecord("$", "must be a JSON object", "not_object")
        owned = True
    else:
        d = load_object(raw, max_bytes)
        owned = not isinstance(raw, dict)
    get = d.get

    event_id = get("event_id")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= ID_MAX_LENGTH):
        raise _required(d, "event_id", "must be 1 to 128 characters long")
    timestamp = get("timestamp")
    if not isinstance(timestamp, str):
        raise _required(d, "timestamp", "")
    ts: float | None
    base = _HOUR_BASE.get(timestamp[:13])
    into = _MIN_SEC.get(timestamp[13:19])
    offset = _OFFSETS.get(timestamp[19:])
    if base is not None and into is not None and offset is not None:
        ts = base + (into - offset)
    else:
        ts = parse_timestamp(timestamp)
    if ts is None:
        raise InvalidRecord(
            "timestamp",
            "must be an RFC 3339 date-time with an offset, like 2026-11-22T02:14:07Z",
            "bad_timestamp",
        )
    employee_id = get("employee_id")
    if not (isinstance(employee_id, str) and 0 < len(employee_id) <= ID_MAX_LENGTH):
        raise _required(d, "employee_id", "must be 1 to 128 characters long")
    action = get("action")
    if not (isinstance(action, str) and action in ACTIONS):
        if "action" not in d:
            raise InvalidRecord("action", "missing required field", "missing_field")
        raise _enum("action", action, ACTION_ORDER)
    known = 4

    object_type = get("object_type")
    if object_type is not None:
        known += 1
        if not isinstance(object_type, str):
            raise _not_string("object_type")

    record_count = get("record_count")
    if record_count is not None:
        known += 1
        if type(record_count) is not int or record_count < 0 or record_count > MAX_COUNT:
            record_count = _count("record_count", record_count)

    territories: dict[str, int] | None = None
    terr_total = 0
    terr = get("territories")
    if terr is not None:
        known += 1
        if not isinstance(terr, dict):
            raise InvalidRecord("territories", "must be an object", "wrong_type")
        for n in terr.values():
            if type(n) is not int or n < 0 or n > MAX_COUNT:
                territories, terr_total = _counts("territories", terr)
                break
            terr_total += n
        else:
            territories = terr if owned else dict(terr)

    tiers: dict[str, int] | None = None
    tier_obj = get("tiers")
    if tier_obj is not None:
        known += 1
        if not isinstance(tier_obj, dict):
            raise InvalidRecord("tiers", "must be an object", "wrong_type")
        if not tier_obj.keys() <= _TIER_SET:
            raise InvalidRecord(
                "tiers", "property names must be one of high, medium, low", "bad_enum"
            )
        for n in tier_obj.values():
            if type(n) is not int or n < 0 or n > MAX_COUNT:
                tiers = _counts("tiers", tier_obj)[0]
                break
        else:
            tiers = tier_obj if owned else dict(tier_obj)

    customer_ids: tuple[str, ...] = ()
    customers = get("customers")
    if customers is not None:
        known += 1
        if not isinstance(customers, list):
            raise InvalidRecord("customers", "must be an array", "wrong_type")
        ids: list[str] = []
        add_id = ids.append
        by_terr: dict[str, int] | None = {} if terr is None else None
        by_tier: dict[str, int] | None = {} if tier_obj is None else None
        for item in customers:
            if not isinstance(item, dict):
                raise _customer_error(customers, item)
            cid = item.get("id")
            if not isinstance(cid, str):
                raise _customer_error(customers, item)
            add_id(cid)
            fields = 1
            territory = item.get("territory")
            if territory is not None:
                if not isinstance(territory, str):
                    raise _customer_error(customers, item)
                fields += 1
                if by_terr is not None:
                    by_terr[territory] = by_terr.get(territory, 0) + 1
            tier = item.get("tier")
            if tier is not None:
                if not (isinstance(tier, str) and tier in _TIER_SET):
                    raise _customer_error(customers, item)
                fields += 1
                if by_tier is not None:
                    by_tier[tier] = by_tier.get(tier, 0) + 1
            if fields != len(item):
                _customer_extra(customers, item)
        customer_ids = tuple(ids)
        if by_terr:
            territories = by_terr
        if by_tier:
            tiers = by_tier

    source_ip = get("source_ip")
    if source_ip is not None:
        known += 1
        if not isinstance(source_ip, str):
            raise _not_string("source_ip")
    device_id = get("device_id")
    if device_id is not None:
        known += 1
        if not isinstance(device_id, str):
            raise _not_string("device_id")
    session_id = get("session_id")
    if session_id is not None:
        known += 1
        if not isinstance(session_id, str):
            raise _not_string("session_id")
    channel = get("channel")
    if channel is not None:
        known += 1
        if not (isinstance(channel, str) and channel in _CHANNEL_SET):
            raise _enum("channel", channel, CHANNELS)
    size = get("bytes")
    if size is not None:
        known += 1
        if type(size) is not int or size < 0 or size > MAX_COUNT:
            size = _count("bytes", size)

    country: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    geo = get("geo")
    if geo is not None:
        known += 1
        if not isinstance(geo, dict):
            raise InvalidRecord("geo", "must be an object", "wrong_type")
        geo_known = 0
        country = geo.get("country")
        if country is not None:
            geo_known += 1
            if not isinstance(country, str):
                raise _not_string("geo.country")
        city = geo.get("city")
        if city is not None:
            geo_known += 1
            if not isinstance(city, str):
                raise _not_string("geo.city")
        lat = geo.get("lat")
        if lat is not None:
            geo_known += 1
            lat = _number("geo.lat", lat, -90, 90)
        lon = geo.get("lon")
        if lon is not None:
            geo_known += 1
            lon = _number("geo.lon", lon, -180, 180)
        if geo_known != len(geo):
            _extra(geo, _GEO_KEYS, "geo.", 3)

    if known != len(d):
        _extra(d, _EVENT_KEYS, "", 2)

    if record_count is None:
        if terr is not None:
            record_count = terr_total if terr_total <= MAX_COUNT else MAX_COUNT
        elif customers is not None:
            record_count = len(customers) if len(customers) <= MAX_COUNT else MAX_COUNT
        else:
            record_count = 1 if action == "view" else 0

    return Event(
        event_id, ts, timestamp, employee_id, action, action in DATA_OUT_ACTIONS,
        record_count, object_type, territories or None, tiers or None, customer_ids,
        source_ip, device_id, country, city, lat, lon, session_id, channel, size,
    )
