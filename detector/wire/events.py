"""CRM access events: the normalised form the core scores.

See ``shared/contract/access-event.schema.json`` for the wire contract.
:func:`parse_event` is the only way in: it checks a document against that
schema and raises :class:`InvalidRecord` for anything else, so a bad record
can become a reject or dead letter instead of a crash.  It runs once per
event: a plain valid document is decoded and checked in C by the msgspec
Structs of ``event_struct``; every other document goes through the checks
field by field below, which alone word the errors, and whose own happy path
avoids exceptions, regexes and copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson
from msgspec import UNSET

from detector.errors import InvalidRecord
from detector.wire.event_fields import (
    _CHANNEL_SET,
    _EVENT_KEYS,
    _GEO_KEYS,
    _TIER_SET,
    ACTION_ORDER,
    ACTIONS,
    CHANNELS,
    DATA_OUT_ACTIONS,
    ID_MAX_LENGTH,
    MAX_COUNT,
    TIERS,
    _count,
    _counts,
    _customer_error,
    _customer_extra,
    _enum,
    _extra,
    _not_string,
    _number,
    _required,
)
from detector.wire.event_struct import CustomerDoc, EventDoc, NotPlain, decode_event
from detector.wire.jsontext import _decode_error, load_object
from detector.wire.times import _HOUR_BASE, _MIN_SEC, _OFFSETS, parse_timestamp

__all__ = [
    "ACTIONS", "ACTION_ORDER", "CHANNELS", "DATA_OUT_ACTIONS", "ID_MAX_LENGTH", "MAX_COUNT",
    "TIERS", "Event", "parse_event", "parse_timestamp",
]

_loads = orjson.loads


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
# the event


def parse_event(
    raw: bytes | bytearray | memoryview | str | dict[str, Any], *, max_bytes: int = 65536
) -> Event:
    """Validate one access-event document against the contract and normalise it.

    Raises :class:`InvalidRecord` (and nothing else) naming the first field at
    fault; messages never include field values.  A plain document (bytes that
    the Structs of ``event_struct`` take as they stand) is decoded and checked
    in C; any other goes through the checked path, which words every error.
    """
    if type(raw) is bytes and len(raw) <= max_bytes:
        try:
            doc = decode_event(raw)
        except NotPlain:
            return _checked_event(raw, max_bytes)
        event = _plain_event(doc)
        if event is not None:
            return event
    return _checked_event(raw, max_bytes)


def _plain_event(doc: EventDoc) -> Event | None:
    """The event of a document the Structs took; None when its timestamp needs the
    checked path (which then words the error)."""
    timestamp = doc.timestamp
    ts = _epoch(timestamp)
    if ts is None:
        return None
    action = doc.action
    terr = doc.territories
    tier_obj = doc.tiers
    territories: dict[str, int] | None = None if terr is UNSET else terr
    tiers: dict[str, int] | None = None if tier_obj is UNSET else cast("dict[str, int]", tier_obj)
    customer_ids: tuple[str, ...] = ()
    customers = doc.customers
    if customers is not UNSET:
        customer_ids = tuple([c.id for c in customers])
        if terr is UNSET or tier_obj is UNSET:
            by_terr, by_tier = _customer_tallies(customers)
            if terr is UNSET:
                territories = by_terr
            if tier_obj is UNSET:
                tiers = by_tier
    record_count = doc.record_count
    if record_count is UNSET:
        record_count = _default_record_count(
            action,
            None if terr is UNSET else sum(terr.values()),
            None if customers is UNSET else len(customers),
        )
    geo = doc.geo
    if geo is UNSET:
        country = city = lat = lon = None
    else:
        country = None if (g_country := geo.country) is UNSET else g_country
        city = None if (g_city := geo.city) is UNSET else g_city
        lat = None if (g_lat := geo.lat) is UNSET else g_lat
        lon = None if (g_lon := geo.lon) is UNSET else g_lon
    # Inline rather than through a helper: one call per field costs more than the test.
    object_type = None if (d_object_type := doc.object_type) is UNSET else d_object_type
    source_ip = None if (d_source_ip := doc.source_ip) is UNSET else d_source_ip
    device_id = None if (d_device_id := doc.device_id) is UNSET else d_device_id
    session_id = None if (d_session_id := doc.session_id) is UNSET else d_session_id
    channel = None if (d_channel := doc.channel) is UNSET else d_channel
    size = None if (d_size := doc.bytes) is UNSET else d_size
    return Event(
        doc.event_id, ts, timestamp, doc.employee_id, action, action in DATA_OUT_ACTIONS,
        record_count, object_type, territories or None, tiers or None, customer_ids,
        source_ip, device_id, country, city, lat, lon, session_id, channel, size,
    )


def _checked_event(
    raw: bytes | bytearray | memoryview | str | dict[str, Any], max_bytes: int
) -> Event:
    """The contract checked field by field in Python: the reference for every error."""
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
    ts = _epoch(timestamp)
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
        record_count = _default_record_count(
            action,
            None if terr is None else terr_total,
            None if customers is None else len(customers),
        )

    return Event(
        event_id, ts, timestamp, employee_id, action, action in DATA_OUT_ACTIONS,
        record_count, object_type, territories or None, tiers or None, customer_ids,
        source_ip, device_id, country, city, lat, lon, session_id, channel, size,
    )


# --------------------------------------------------------------------------
# derivations both paths share


def _epoch(timestamp: str) -> float | None:
    """Seconds since the epoch, or None when not RFC 3339: the common forms by table look-up."""
    base = _HOUR_BASE.get(timestamp[:13])
    into = _MIN_SEC.get(timestamp[13:19])
    offset = _OFFSETS.get(timestamp[19:])
    if base is not None and into is not None and offset is not None:
        return base + (into - offset)
    return parse_timestamp(timestamp)


def _customer_tallies(customers: list[CustomerDoc]) -> tuple[dict[str, int], dict[str, int]]:
    """Records per territory and per tier, counted from the customers that name one.

    One pass for both, with no comprehension: on Python 3.11 a list built for a
    shared counter measurably slowed the plain path."""
    by_terr: dict[str, int] = {}
    by_tier: dict[str, int] = {}
    for c in customers:
        territory = c.territory
        if territory is not UNSET:
            by_terr[territory] = by_terr.get(territory, 0) + 1
        tier = c.tier
        if tier is not UNSET:
            by_tier[tier] = by_tier.get(tier, 0) + 1
    return by_terr, by_tier


def _default_record_count(action: str, terr_total: int | None, n_customers: int | None) -> int:
    """The record_count of an event that leaves it out: the territories' total when sent,
    else the customers listed, else one record for a view and none for anything else."""
    if terr_total is not None:
        return terr_total if terr_total <= MAX_COUNT else MAX_COUNT
    if n_customers is not None:
        return n_customers if n_customers <= MAX_COUNT else MAX_COUNT
    return 1 if action == "view" else 0
