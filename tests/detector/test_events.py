"""parse_event against the access-event contract: every valid document in, every invalid one out.

The oracle for "valid" is the contract itself (jsonschema, Draft 2020-12)
plus an independent RFC 3339 check, because jsonschema only checks the
date-time format when an optional package is installed.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from detector.errors import InvalidRecord
from detector.wire.events import (
    ACTIONS,
    DATA_OUT_ACTIONS,
    MAX_COUNT,
    TIERS,
    Event,
    parse_event,
    parse_timestamp,
)
from tests.contract import contract_file, drop, set_at

SCHEMA = json.loads(contract_file("access-event.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
EXAMPLES = [
    line for line in contract_file("examples.jsonl").read_bytes().splitlines() if line.strip()
]
KNOWN = set(SCHEMA["properties"])
SECRET = "Zq9-secret-value"
FIELDS_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# an independent RFC 3339 reference

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def reference_instant(text: str) -> Decimal | None:
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if h > 23 or mi > 59 or s > 60:
        return None
    try:
        days = date(y, mo, d).toordinal() - date(1970, 1, 1).toordinal()
    except ValueError:
        return None
    offset = 0
    if m.group(8) is None:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if m.group(9) == "+" else -1)
    frac = Decimal(m.group(7)) if m.group(7) else Decimal(0)
    return Decimal(days * 86400 + h * 3600 + mi * 60 + s - offset) + frac


def oracle_valid(doc: Any) -> bool:
    if not VALIDATOR.is_valid(doc):
        return False
    return reference_instant(doc["timestamp"]) is not None


# ---------------------------------------------------------------------------
# strategies for valid documents

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
counts = st.integers(min_value=0, max_value=2**70) | st.integers(0, 2**53).map(float)
ids = st.text(min_size=1, max_size=128)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    day = draw(st.dates())
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    # No leap seconds: the oracle (rfc3339_validator) supports none; the parser's
    # handling of one is among the explicit examples below.
    second = draw(st.integers(0, 59))
    frac = draw(st.sampled_from(["", "."]))
    if frac:
        frac += draw(st.text("0123456789", min_size=1, max_size=12))
    sep = draw(st.sampled_from("Tt"))
    offset = draw(
        st.sampled_from(["Z", "z", "+00:00", "-00:00"])
        | st.builds(
            lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
            st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59),
        )
    )
    return f"{day.isoformat()}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}{offset}"


customers = st.fixed_dictionaries(
    {"id": st.text(max_size=12)},
    optional={
        "territory": st.text(max_size=10),
        "tier": st.sampled_from(TIERS),
        "note": json_values,
    },
)
geo = st.fixed_dictionaries(
    {},
    optional={
        "country": st.text(max_size=3),
        "city": st.text(max_size=12),
        "lat": st.floats(-90, 90) | st.integers(-90, 90),
        "lon": st.floats(-180, 180) | st.integers(-180, 180),
        "alt": json_values,
    },
)
extra_fields = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in KNOWN), json_values, max_size=3
)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(
        st.fixed_dictionaries(
            {
                "event_id": ids,
                "timestamp": timestamps(),
                "employee_id": ids,
                "action": st.sampled_from(sorted(ACTIONS)),
            },
            optional={
                "object_type": st.text(max_size=10),
                "record_count": counts,
                "customers": st.lists(customers, max_size=5),
                "territories": st.dictionaries(st.text(max_size=10), counts, max_size=4),
                "tiers": st.dictionaries(st.sampled_from(TIERS), counts),
                "source_ip": st.text(max_size=15),
                "device_id": st.text(max_size=10),
                "geo": geo,
                "session_id": st.text(max_size=10),
                "channel": st.sampled_from(["web", "mobile", "api", "integration"]),
                "bytes": counts,
            },
        )
    )
    extra = draw(extra_fields)
    return {**extra, **doc}


def encode(doc: Any, form: str) -> Any:
    """The same document as bytes, str or dict (stdlib json: it writes any integer)."""
    if form == "dict":
        return doc
    text = json.dumps(doc, ensure_ascii=False)
    return text if form == "str" else text.encode("utf-8")


forms = st.sampled_from(["bytes", "str", "dict"])


def clamp(n: float) -> int:
    return int(min(n, MAX_COUNT))


def expected(doc: dict[str, Any]) -> dict[str, Any]:
    """The normalised fields, written out the slow and obvious way."""
    customers = doc.get("customers")
    terr = doc.get("territories")
    tiers = doc.get("tiers")
    if terr is not None:
        territories: dict[str, int] | None = {k: clamp(v) for k, v in terr.items()} or None
    elif customers:
        territories = dict(Counter(c["territory"] for c in customers if "territory" in c)) or None
    else:
        territories = None
    if tiers is not None:
        tier_counts: dict[str, int] | None = {k: clamp(v) for k, v in tiers.items()} or None
    elif customers:
        tier_counts = dict(Counter(c["tier"] for c in customers if "tier" in c)) or None
    else:
        tier_counts = None
    if "record_count" in doc:
        record_count = clamp(doc["record_count"])
    elif terr is not None:
        record_count = clamp(sum(clamp(v) for v in terr.values()))
    elif customers is not None:
        record_count = len(customers)
    else:
        record_count = 1 if doc["action"] == "view" else 0
    g = doc.get("geo", {})
    return {
        "event_id": doc["event_id"],
        "timestamp": doc["timestamp"],
        "employee_id": doc["employee_id"],
        "action": doc["action"],
        "data_out": doc["action"] in DATA_OUT_ACTIONS,
        "record_count": record_count,
        "object_type": doc.get("object_type"),
        "territories": territories,
        "tiers": tier_counts,
        "customer_ids": tuple(c["id"] for c in customers or ()),
        "source_ip": doc.get("source_ip"),
        "device_id": doc.get("device_id"),
        "country": g.get("country"),
        "city": g.get("city"),
        "lat": None if "lat" not in g else float(g["lat"]),
        "lon": None if "lon" not in g else float(g["lon"]),
        "session_id": doc.get("session_id"),
        "channel": doc.get("channel"),
        "bytes": None if "bytes" not in doc else clamp(doc["bytes"]),
    }


def check_instant(ev: Event, text: str) -> None:
    want = reference_instant(text)
    assert want is not None
    assert math.isclose(ev.ts, float(want), rel_tol=1e-15, abs_tol=2e-6)


# ---------------------------------------------------------------------------
# (a) valid documents are accepted and round-trip


def test_contract_examples_parse() -> None:
    view, export = (parse_event(line) for line in EXAMPLES)
    assert view.action == "view" and not view.data_out and view.record_count == 1
    assert view.ts == 1795162323.0  # 2026-11-20T08:12:03Z
    assert view.territories == {"DE-North": 1} and view.tiers == {"medium": 1}
    assert view.customer_ids == ("C-88121",) and view.country == "DE" and view.city == "Hamburg"
    assert export.data_out and export.record_count == 4812 and export.bytes == 1933120
    assert export.territories == {"DE-North": 612, "FR-Paris": 2100, "UK-London": 2100}
    assert export.tiers == {"high": 1900, "medium": 1712, "low": 1200}
    assert export.timestamp == "2026-11-21T02:14:07Z" and export.ts == 1795227247.0


@FIELDS_SETTINGS
@given(doc=valid_events(), form=forms)
def test_valid_events_round_trip(doc: dict[str, Any], form: str) -> None:
    assert oracle_valid(doc)
    ev = parse_event(encode(doc, form))
    got = {name: getattr(ev, name) for name in expected(doc)}
    assert got == expected(doc)
    check_instant(ev, doc["timestamp"])


@given(text=timestamps())
def test_timestamps_match_reference(text: str) -> None:
    ts = parse_timestamp(text)
    want = reference_instant(text)
    assert ts is not None and want is not None
    assert math.isclose(ts, float(want), rel_tol=1e-15, abs_tol=2e-6)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-22T02:14:07Z", 1795313647.0),
        ("2026-11-22t02:14:07z", 1795313647.0),
        ("2026-11-22T10:14:07+08:00", 1795313647.0),
        ("2026-11-21T20:44:07-05:30", 1795313647.0),
        ("2026-11-22T02:14:07.123456789Z", 1795313647.123456789),
        ("2026-11-22T02:14:07.5-00:00", 1795313647.5),
        ("2016-12-31T23:59:60Z", 1483228800.0),  # leap second
        ("2024-02-29T00:00:00Z", 1709164800.0),
        ("0001-01-01T00:00:00Z", -62135596800.0),
    ],
)
def test_timestamp_forms(text: str, instant: float) -> None:
    assert parse_timestamp(text) == pytest.approx(instant, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T02:14:07",  # no offset
        "2026-11-22 02:14:07Z",  # space separator
        "2026-11-22T02:14Z",  # no seconds
        "2026-11-22",
        "2026-11-22T02:14:07+0800",
        "2026-11-22T02:14:07+08",
        "2026-11-22T02:14:07+24:00",
        "2026-11-22T02:14:07.Z",
        "2026-11-22T02:14:07,5Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T23:60:00Z",
        "2026-11-22T23:59:61Z",
        "0000-01-01T00:00:00Z",
        "2026-11-22T02:14:07Z\n",
        "2026-11-22T02:14:07ZZ",
        "20261122T021407Z",
        "2026-W47-7T02:14:07Z",
        "２０２６-11-22T02:14:07Z",
        "",
    ],
)
def test_bad_timestamps(text: str) -> None:
    assert parse_timestamp(text) is None
    doc = orjson.loads(EXAMPLES[1])
    doc["timestamp"] = text
    with pytest.raises(InvalidRecord) as info:
        parse_event(orjson.dumps(doc))
    assert (info.value.field, info.value.code) == ("timestamp", "bad_timestamp")


def test_integers_may_be_written_as_floats_and_are_clamped() -> None:
    doc = orjson.loads(EXAMPLES[1])
    doc.update(record_count=3.0, bytes=1e300, territories={"A": 2.0, "B": 10**12})
    ev = parse_event(orjson.dumps(doc))
    assert ev.record_count == 3 and type(ev.record_count) is int
    assert ev.bytes == MAX_COUNT
    assert ev.territories == {"A": 2, "B": MAX_COUNT}


@pytest.mark.parametrize("number", [b"1e400", b"1" + b"0" * 5000, b"18446744073709551616"])
def test_numbers_beyond_a_double_are_valid_and_clamped(number: bytes) -> None:
    raw = (
        b'{"event_id":"e","timestamp":"2026-11-22T02:14:07Z","employee_id":"E","action":"export",'
        b'"record_count":' + number + b',"territories":{"X":' + number + b"}}"
    )
    ev = parse_event(raw)
    assert ev.record_count == MAX_COUNT and ev.territories == {"X": MAX_COUNT}


def test_record_count_defaults() -> None:
    base = {"event_id": "e", "timestamp": "2026-11-22T02:14:07Z", "employee_id": "E"}
    assert parse_event({**base, "action": "view"}).record_count == 1
    assert parse_event({**base, "action": "export"}).record_count == 0
    cust = [{"id": "a", "territory": "X"}, {"id": "b"}, {"id": "c", "tier": "high"}]
    ev = parse_event({**base, "action": "export", "customers": cust})
    assert ev.record_count == 3 and ev.territories == {"X": 1} and ev.tiers == {"high": 1}
    ev = parse_event({**base, "action": "view", "customers": cust, "territories": {"Y": 7}})
    assert ev.record_count == 7 and ev.territories == {"Y": 7} and ev.tiers == {"high": 1}
    ev = parse_event({**base, "action": "view", "customers": []})
    assert ev.record_count == 0 and ev.territories is None and ev.customer_ids == ()


def test_duplicate_keys_keep_the_last() -> None:
    raw = EXAMPLES[0][:-1] + b',"action":"export"}'
    assert parse_event(raw).action == "export"


def test_dict_input_is_not_aliased() -> None:
    doc = orjson.loads(EXAMPLES[1])
    ev = parse_event(doc)
    doc["territories"]["DE-North"] = 0
    assert ev.territories is not None and ev.territories["DE-North"] == 612


# ---------------------------------------------------------------------------
# (b) invalid documents name the field at fault


# (field reported, code, how to break the example export event)
MUTATIONS: list[tuple[str, str, Any]] = [
    *[(f, "missing_field", drop(f)) for f in ("event_id", "timestamp", "employee_id", "action")],
    ("event_id", "bad_length", set_at(("event_id",), "")),
    ("event_id", "bad_length", set_at(("event_id",), SECRET * 20)),
    ("event_id", "wrong_type", set_at(("event_id",), 17)),
    ("employee_id", "wrong_type", set_at(("employee_id",), None)),
    ("timestamp", "wrong_type", set_at(("timestamp",), 1795313647)),
    ("timestamp", "bad_timestamp", set_at(("timestamp",), "2026-11-22T02:14:07")),
    ("timestamp", "bad_timestamp", set_at(("timestamp",), SECRET)),
    ("action", "bad_enum", set_at(("action",), SECRET)),
    ("action", "wrong_type", set_at(("action",), ["view"])),
    ("object_type", "wrong_type", set_at(("object_type",), 3)),
    ("object_type", "wrong_type", set_at(("object_type",), None)),
    ("record_count", "wrong_type", set_at(("record_count",), True)),
    ("record_count", "wrong_type", set_at(("record_count",), "12")),
    ("record_count", "wrong_type", set_at(("record_count",), 1.5)),
    ("record_count", "out_of_range", set_at(("record_count",), -1)),
    ("record_count", "out_of_range", set_at(("record_count",), -(2**70))),
    ("customers", "wrong_type", set_at(("customers",), {"id": "a"})),
    ("customers[1]", "wrong_type", set_at(("customers",), [{"id": "a"}, "b"])),
    ("customers[0].id", "missing_field", set_at(("customers",), [{"tier": "low"}])),
    ("customers[0].id", "wrong_type", set_at(("customers",), [{"id": 5}])),
    ("customers[2].tier", "bad_enum",
     set_at(("customers",), [{"id": "a"}, {"id": "b"}, {"id": "c", "tier": SECRET}])),
    ("customers[0].territory", "wrong_type", set_at(("customers",), [{"id": "a", "territory": 1}])),
    ("customers[0].territory", "wrong_type",
     set_at(("customers",), [{"id": "a", "territory": None}])),
    ("territories", "wrong_type", set_at(("territories",), [1, 2])),
    ("territories.DE-North", "out_of_range", set_at(("territories", "DE-North"), -5)),
    ("territories.DE-North", "wrong_type", set_at(("territories", "DE-North"), False)),
    ("territories.DE-North", "wrong_type", set_at(("territories", "DE-North"), "612")),
    ("territories.DE-North", "wrong_type", set_at(("territories", "DE-North"), 0.5)),
    ("tiers", "bad_enum", set_at(("tiers", SECRET), 1)),
    ("tiers.high", "out_of_range", set_at(("tiers", "high"), -1)),
    ("tiers", "wrong_type", set_at(("tiers",), "high")),
    ("geo", "wrong_type", set_at(("geo",), SECRET)),
    ("geo.lat", "out_of_range", set_at(("geo", "lat"), 90.0001)),
    ("geo.lat", "wrong_type", set_at(("geo", "lat"), "53.5")),
    ("geo.lat", "wrong_type", set_at(("geo", "lat"), True)),
    ("geo.lon", "out_of_range", set_at(("geo", "lon"), -181)),
    ("geo.lon", "wrong_type", set_at(("geo", "lon"), None)),
    ("geo.country", "wrong_type", set_at(("geo", "country"), 49)),
    ("geo.city", "wrong_type", set_at(("geo", "city"), ["Hamburg"])),
    ("source_ip", "wrong_type", set_at(("source_ip",), 10)),
    ("device_id", "wrong_type", set_at(("device_id",), {})),
    ("session_id", "wrong_type", set_at(("session_id",), False)),
    ("channel", "bad_enum", set_at(("channel",), SECRET)),
    ("channel", "wrong_type", set_at(("channel",), 1)),
    ("bytes", "out_of_range", set_at(("bytes",), -1)),
    ("bytes", "wrong_type", set_at(("bytes",), True)),
]


@FIELDS_SETTINGS
@given(
    doc=valid_events(),
    mutation=st.sampled_from(MUTATIONS),
    form=forms,
)
def test_mutations_name_the_field(
    doc: dict[str, Any], mutation: tuple[str, str, Any], form: str
) -> None:
    field, code, apply = mutation
    base = orjson.loads(EXAMPLES[1])
    base["customers"] = [{"id": "C-1", "territory": "DE-North", "tier": "high"}]
    base["geo"].update(lat=53.5, lon=10.0)
    # keep the generated document's extra fields, so unknown ones never hide an error
    broken = apply({**{k: v for k, v in doc.items() if k not in KNOWN}, **base})
    assert not oracle_valid(broken)
    with pytest.raises(InvalidRecord) as info:
        parse_event(encode(broken, form))
    exc = info.value
    assert (exc.field, exc.code) == (field, code)
    assert exc.problem and SECRET not in str(exc)


@given(depth=st.integers(33, 300), form=forms)
def test_deep_nesting_is_refused(depth: int, form: str) -> None:
    doc = orjson.loads(EXAMPLES[0])
    nested: Any = "x"
    for _ in range(depth - 1):  # the event object itself is the first level
        nested = [nested]
    doc["extension"] = nested
    with pytest.raises(InvalidRecord) as info:
        parse_event(encode(doc, form))
    assert (info.value.field, info.value.code) == ("$", "too_deep")


@pytest.mark.parametrize("where", ["top", "geo", "customer"])
def test_nesting_limit_is_exactly_32(where: str) -> None:
    def event(levels: int) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(EXAMPLES[0])
        nested: Any = 1
        for _ in range(levels):
            nested = {"n": nested}
        if where == "top":
            doc["x"] = nested  # doc is level 1
            return doc
        if where == "geo":
            doc["geo"]["x"] = nested  # doc, geo
            return doc
        doc["customers"][0]["x"] = nested  # doc, customers, item
        return doc

    room = {"top": 31, "geo": 30, "customer": 29}[where]
    assert parse_event(orjson.dumps(event(room))).event_id == "ev-000001"
    with pytest.raises(InvalidRecord) as info:
        parse_event(orjson.dumps(event(room + 1)))
    assert info.value.code == "too_deep"


def test_nesting_beyond_orjson_limit() -> None:
    raw = EXAMPLES[0][:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(InvalidRecord) as info:
        parse_event(raw)
    assert info.value.code == "too_deep"


def test_cyclic_dict_is_refused() -> None:
    doc = orjson.loads(EXAMPLES[0])
    doc["self"] = doc
    with pytest.raises(InvalidRecord) as info:
        parse_event(doc)
    assert info.value.code == "too_deep"


@given(extra=st.integers(1, 1000))
def test_oversize_is_refused_before_parsing(extra: int) -> None:
    raw = EXAMPLES[1]
    limit = len(raw) - extra
    with pytest.raises(InvalidRecord) as info:
        parse_event(raw, max_bytes=limit)
    assert (info.value.field, info.value.code) == ("$", "too_large")
    with pytest.raises(InvalidRecord):
        parse_event(raw.decode(), max_bytes=limit)
    assert parse_event(raw, max_bytes=len(raw)).event_id == "ev-000002"


def test_oversize_str_counts_utf8_bytes() -> None:
    doc = orjson.loads(EXAMPLES[0])
    doc["note"] = "é" * 100
    text = json.dumps(doc, ensure_ascii=False)
    size = len(text.encode())
    assert parse_event(text, max_bytes=size).event_id == "ev-000001"
    with pytest.raises(InvalidRecord) as info:
        parse_event(text, max_bytes=size - 1)
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "not_json"),
        (b"{", "not_json"),
        (b"\xff\xfe{}", "not_json"),
        (b'{"event_id":"\xc3"}', "not_json"),
        (b'{"a":"\\ud800"}', "not_json"),
        (b'{"a":1e400,"b":"\\ud800"}', "not_json"),
        (b'{"a":NaN}', "not_json"),
        (b'{"a":1e400,"b":Infinity}', "not_json"),
        (b"\xef\xbb\xbf{}", "not_json"),
        (b"[]", "not_object"),
        (b'"event"', "not_object"),
        (b"null", "not_object"),
        (b"1e400", "not_object"),
        (b"{}", "missing_field"),
    ],
)
def test_not_an_event(raw: bytes, code: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_event(raw)
    assert info.value.code == code and info.value.field in ("$", "event_id")


@pytest.mark.parametrize("raw", [None, 12, 1.5, ["a"], object()])
def test_unsupported_input_types(raw: Any) -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_event(raw)
    assert info.value.field == "$"


def test_dict_with_non_string_keys() -> None:
    doc: dict[Any, Any] = orjson.loads(EXAMPLES[0])
    doc[3] = "x"
    with pytest.raises(InvalidRecord) as info:
        parse_event(doc)
    assert info.value.field == "$"


def test_other_buffers_are_bytes() -> None:
    assert parse_event(bytearray(EXAMPLES[0])).event_id == "ev-000001"
    assert parse_event(memoryview(EXAMPLES[1])).event_id == "ev-000002"


# ---------------------------------------------------------------------------
# (c) anything at all: an Event or InvalidRecord, and valid exactly when the contract says so


@example(b'{"event_id":"a","timestamp":"2026-01-01T00:00:00Z","employee_id":"b","action":"view"}')
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    try:
        ev = parse_event(raw)
    except InvalidRecord as exc:
        assert exc.field and exc.problem and exc.code
    else:
        assert isinstance(ev, Event)


@given(text=st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    try:
        parse_event(text)
    except InvalidRecord as exc:
        assert exc.code


def _maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes anything JSON."""
    return st.one_of(valid, valid, json_values)


@st.composite
def near_events(draw: st.DrawFn) -> dict[str, Any]:
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "event_id": _maybe(ids),
                "timestamp": _maybe(timestamps()),
                "employee_id": _maybe(ids),
                "action": _maybe(st.sampled_from(sorted(ACTIONS))),
                "record_count": _maybe(counts) | st.integers(),
                "customers": _maybe(st.lists(_maybe(customers), max_size=3)),
                "territories": _maybe(st.dictionaries(st.text(max_size=3), _maybe(counts))),
                "tiers": _maybe(
                    st.dictionaries(st.sampled_from([*TIERS, "x"]), _maybe(counts), max_size=3)
                ),
                "geo": _maybe(geo)
                | st.fixed_dictionaries(
                    {"lat": st.floats(allow_nan=False), "lon": st.floats(allow_nan=False)}
                ),
                "channel": _maybe(st.sampled_from(["web", "api", "fax"])),
                "bytes": _maybe(counts),
                "source_ip": _maybe(st.text(max_size=5)),
            },
        )
    )


@FIELDS_SETTINGS
@given(doc=near_events(), form=forms)
def test_accepts_exactly_the_valid_documents(doc: dict[str, Any], form: str) -> None:
    valid = oracle_valid(doc) if isinstance(doc.get("timestamp"), str) else VALIDATOR.is_valid(doc)
    try:
        parse_event(encode(doc, form))
    except InvalidRecord as exc:
        assert not valid, f"valid document refused: {exc}"
    else:
        assert valid, "invalid document accepted"
