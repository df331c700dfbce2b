"""Fuzzing the parsers that read outside input: events, directory records, commands.

These are the only places where bytes from other systems enter the core, and
their promise is narrow: a document either comes out as a valid object or
raises :class:`InvalidRecord` naming the field and the problem.  Anything
else (another exception, a hang) would crash a replay or stall a partition of
the service on one bad record.  Here they meet what ``test_events.py`` and
``test_directory.py`` do not aim at: arbitrary and invalid bytes, wrong Python
types, numbers beyond a double, NaN and Infinity literals, very long strings,
10,000-level nesting, duplicated keys, timestamps at the ends of the calendar,
and random damage to valid documents.  ``CASES`` counts what was tried; the
last test checks and prints the totals.  ``FUZZ_SCALE=N`` runs N times as many
examples, for a longer hunt than the suite's ~20 s.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.directory import Directory
from detector.errors import InvalidRecord
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.commands import FALSE_POSITIVE, KINDS, Command, parse_command
from detector.wire.employees import STATUSES, EmployeeRecord, parse_employee
from detector.wire.events import ACTIONS, DATA_OUT_ACTIONS, MAX_COUNT, Event, parse_event
from detector.wire.jsonl import iter_lines
from tests.contract import contract_file

CASES: Counter[str] = Counter()
# A parse of at most 64 KiB taking this long is a hang, whatever the machine's load.
HANG_SECONDS = 5.0


def examples(n: int) -> int:
    """``n`` times FUZZ_SCALE (default 1): a longer hunt is one variable away."""
    return n * int(os.environ.get("FUZZ_SCALE", "1"))


FUZZ = settings(
    max_examples=examples(600), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)

# --------------------------------------------------------------------------
# the property


def _check_event(ev: Any) -> None:
    assert isinstance(ev, Event)
    assert 0 < len(ev.event_id) <= 128 and 0 < len(ev.employee_id) <= 128
    assert math.isfinite(ev.ts) and ev.action in ACTIONS
    assert ev.data_out == (ev.action in DATA_OUT_ACTIONS)
    assert type(ev.record_count) is int and 0 <= ev.record_count <= MAX_COUNT
    for counts in (ev.territories, ev.tiers):
        assert counts is None or all(type(n) is int and 0 <= n <= MAX_COUNT
                                     for n in counts.values())
    assert ev.bytes is None or (type(ev.bytes) is int and 0 <= ev.bytes <= MAX_COUNT)
    assert ev.lat is None or -90 <= ev.lat <= 90
    assert ev.lon is None or -180 <= ev.lon <= 180
    assert all(isinstance(c, str) for c in ev.customer_ids)


def _check_employee(rec: Any) -> None:
    assert isinstance(rec, EmployeeRecord)
    assert 0 < len(rec.employee_id) <= 128 and rec.status in STATUSES
    assert math.isfinite(rec.updated_at) and rec.peer_group
    for minutes in (rec.work_start, rec.work_end):
        assert minutes is None or 0 <= minutes <= 1440


def _check_command(cmd: Any) -> None:
    assert isinstance(cmd, Command) and cmd.command in KINDS
    assert cmd.employee_id.strip()
    assert cmd.command != FALSE_POSITIVE or cmd.action_id
    assert cmd.issued_at is None or math.isfinite(cmd.issued_at)


@dataclass(frozen=True)
class Parser:
    name: str
    parse: Callable[[Any], Any]
    check: Callable[[Any], None]


PARSERS = {
    "event": Parser("event", parse_event, _check_event),
    "employee": Parser("employee", parse_employee, _check_employee),
    "command": Parser("command", parse_command, _check_command),
}
each_parser = pytest.mark.parametrize("parser", list(PARSERS.values()), ids=list(PARSERS))


class Hang(Exception):
    pass


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Turn a parse that never returns into a failure instead of a stuck test run."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(parser: Parser, raw: Any) -> Any:
    """The parsed object, or the InvalidRecord; any other exception fails the test."""
    CASES[parser.name] += 1
    started = time.perf_counter()
    try:
        with watchdog(HANG_SECONDS):
            result = parser.parse(raw)
    except InvalidRecord as exc:
        assert exc.field and exc.problem and exc.code, "an InvalidRecord must say what is wrong"
        assert str(exc) == exc.reason == f"{exc.field}: {exc.problem}"
        return exc
    finally:
        assert time.perf_counter() - started < HANG_SECONDS
    parser.check(result)
    return result


# --------------------------------------------------------------------------
# valid examples


def _contract_events() -> list[dict[str, Any]]:
    raw = contract_file("examples.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in raw if line.strip()]


EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "event": [
        *_contract_events(),
        {"event_id": "ev-3", "timestamp": "2026-11-21T02:14:07.250-05:30", "employee_id": "E7",
         "action": "bulk_api", "customers": [{"id": "C-1", "territory": "US-East", "tier": "high"},
                                             {"id": "C-2"}],
         "geo": {"country": "US", "city": "Boston", "lat": 42.36, "lon": -71.06},
         "channel": "api", "bytes": 1024, "x-extension": {"trace": [1, 2, 3]}},
    ],
    "employee": [
        {"employee_id": "E1042", "updated_at": "2026-11-01T08:00:00+01:00", "status": "notice",
         "notice_date": "2026-10-30", "last_day": "2026-11-30", "role": "account_exec",
         "department": "sales", "territories": ["DE-North", "*"], "timezone": "Europe/Berlin",
         "working_hours": {"days": ["mon", "tue", "fri"], "start": "22:00", "end": "06:00"},
         "manager_id": "E7", "peer_group": "closers"},
        {"employee_id": "E2", "updated_at": "2026-01-01T00:00:00Z", "status": "terminated"},
    ],
    "command": [
        {"command": "release", "employee_id": "E1042", "reason": "confirmed with the manager",
         "analyst": "sam", "issued_at": "2026-11-23T10:00:00+01:00"},
        {"command": "false_positive", "employee_id": "E1042", "action_id": "alert-5c1e"},
    ],
}
# every field name any of the three contracts knows, so mutations hit real fields
FIELD_NAMES = sorted({k for docs in EXAMPLES.values() for d in docs for k in d}
                     | {"lat", "lon", "country", "city", "id", "territory", "tier", "days",
                        "start", "end", "record_count", "source_ip", "device_id", "session_id"})


@pytest.mark.parametrize(("name", "doc"), [(n, d) for n, docs in EXAMPLES.items() for d in docs])
def test_valid_examples_always_parse(name: str, doc: dict[str, Any]) -> None:
    parser = PARSERS[name]
    text = json.dumps(doc)
    for form in (doc, copy.deepcopy(doc), text, text.encode(), bytearray(text.encode()),
                 memoryview(text.encode()), orjson.dumps(doc)):
        assert not isinstance(outcome(parser, form), InvalidRecord)


# --------------------------------------------------------------------------
# JSON text with what a serializer would never write


@dataclass(frozen=True)
class Raw:
    """A token written into the text as it is: a literal no encoder would produce."""

    text: bytes


@dataclass(frozen=True)
class Pairs:
    """An object written from (key, value) pairs, so a key can appear twice."""

    items: tuple[tuple[str, Any], ...]


RAW_TOKENS = [Raw(t) for t in (
    b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"inf", b"1e400", b"-1e400", b"1e-400",
    b"1E999999999", b"1" + b"0" * 400, b"-" + b"9" * 400, b"1" + b"0" * 5000,
    b"18446744073709551616", b"-0", b"0.0", b"1.5e3", b"01", b"+1", b".5", b"1.", b"0x1F",
    b"true", b"nul", b"None", b'"\\ud800"', b'"\\udfff\\ud800"', b'"\xff\xfe"', b'"\xc3"',
    b'"\xed\xa0\x80"', b'"\\u0000"', b'"\\x41"', b"'single'", b'"' + b"x" * 70000 + b'"',
    b"[" * 40 + b"]" * 40, b"{}", b"[]", b"\x00", b"/* comment */ 1",
)]

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400)
    | st.floats() | st.text(max_size=20) | st.text(max_size=3).map(lambda s: s * 30000)
)
text_leaves = json_scalars | st.sampled_from(RAW_TOKENS)
text_trees = st.recursive(
    text_leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.sampled_from(FIELD_NAMES), inner, max_size=4)
    | st.lists(st.tuples(st.sampled_from(FIELD_NAMES) | st.text(max_size=4), inner),
               max_size=4).map(lambda items: Pairs(tuple(items))),
    max_leaves=12,
)


def emit(value: Any) -> bytes:
    """JSON text for a tree; floats as NaN / Infinity where they are not finite."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return b"{" + b",".join(emit(k) + b":" + emit(v) for k, v in value.items) + b"}"
    if isinstance(value, dict):
        return emit(Pairs(tuple(value.items())))
    if isinstance(value, list):
        return b"[" + b",".join(emit(v) for v in value) + b"]"
    if isinstance(value, float) and not math.isfinite(value):
        return b"NaN" if math.isnan(value) else b"Infinity" if value > 0 else b"-Infinity"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**4000:
        return str(value // 10**4000).encode() + b"0" * 4000  # past int -> str limits
    # ensure_ascii writes a lone surrogate as a \ud800 escape: valid text, invalid string
    return json.dumps(value).encode()


forms = st.sampled_from(["bytes", "str", "bytearray"])


def encoded(doc: Any, form: str) -> Any:
    raw = emit(doc)
    if form == "str":
        return raw.decode("utf-8", "surrogateescape")
    return bytearray(raw) if form == "bytearray" else raw


@FUZZ
@each_parser
@given(raw=st.binary(max_size=3000) | st.binary(max_size=40).map(lambda b: b"{" + b + b"}"))
def test_arbitrary_bytes(parser: Parser, raw: bytes) -> None:
    outcome(parser, raw)


@settings(FUZZ, max_examples=examples(400))
@each_parser
@given(text=st.text(st.characters(codec=None), max_size=300)
       | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.just('"'),
                 max_size=20).map(lambda s: '{"a":"' + s + '"}'))
def test_arbitrary_text_with_surrogates(parser: Parser, text: str) -> None:
    outcome(parser, text)


@settings(FUZZ, max_examples=examples(400))
@each_parser
@given(doc=text_trees, form=forms)
def test_nasty_json_documents(parser: Parser, doc: Any, form: str) -> None:
    outcome(parser, encoded(doc, form))


# --------------------------------------------------------------------------
# wrong Python types (the dict form skips JSON decoding)


class Weird:
    pass


class BytesLike(bytes):
    pass


def _cycle() -> dict[str, Any]:
    doc: dict[str, Any] = {"a": []}
    doc["a"].append(doc)
    return doc


python_leaves = (
    json_scalars | st.sampled_from([
        math.nan, math.inf, -math.inf, -0.0, 10**400, -(10**400),
        Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("1e400"), Decimal("2.0"),
        b"bytes", bytearray(b"x"), (1, 2), frozenset({"a"}), {"set"}, Weird(), Weird, print,
        "\ud800", "x" * 100_000, array("i", [1]),
    ])
    # beyond int -> str limits (built lazily: such an int has no repr)
    | st.integers(4400, 5000).map(lambda n: 10**n)
)
python_trees = st.recursive(
    python_leaves,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=4), inner, max_size=4)
    | st.dictionaries(st.integers() | st.none() | st.tuples(st.integers()), inner,
                      min_size=1, max_size=2),
    max_leaves=10,
)


@settings(FUZZ, max_examples=examples(300))
@each_parser
@given(value=python_trees | st.builds(_cycle) | st.builds(BytesLike, st.binary(max_size=50))
       | st.builds(lambda b: memoryview(b)[::2], st.binary(max_size=50)))
def test_wrong_python_types(parser: Parser, value: Any) -> None:
    outcome(parser, value)


# --------------------------------------------------------------------------
# valid examples, damaged


def _locations(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside dicts and lists."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(
        doc, list) else ()
    for key, value in items:
        yield (*path, key)
        yield from _locations(value, (*path, key))


def _value(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def damaged_examples(draw: st.DrawFn, name: str, leaves: st.SearchStrategy[Any],
                     twice: bool) -> Any:
    """A valid example with one to four edits: set, drop, add, wrap or repeat a field."""
    doc = copy.deepcopy(draw(st.sampled_from(EXAMPLES[name])))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_locations(doc))
        op = draw(st.sampled_from(["set", "set", "drop", "add", "wrap", "twice"]))
        if op == "add" or not paths:
            objects = [(), *(p for p in paths if isinstance(_value(doc, p), dict))]
            box = _value(doc, draw(st.sampled_from(objects)))
            box[draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=8))] = draw(leaves)
            continue
        path = draw(st.sampled_from(paths))
        box, key = _value(doc, path[:-1]), path[-1]
        if op == "set":
            box[key] = draw(leaves)
        elif op == "drop":
            del box[key]
        elif op == "wrap":
            box[key] = draw(st.sampled_from([[box[key]], {"value": box[key]}, [[[box[key]]]]]))
        elif twice and isinstance(box, dict):
            # the same key again, with another value: JSON text allows it, the last one wins
            box_items = [*box.items(), (key, draw(leaves))]
            if len(path) == 1:
                return Pairs(tuple(box_items))
            _value(doc, path[:-2])[path[-2]] = Pairs(tuple(box_items))
            return doc
    return doc


@settings(FUZZ, max_examples=examples(600))
@each_parser
@given(data=st.data(), form=forms)
def test_damaged_examples_as_text(parser: Parser, data: st.DataObject, form: str) -> None:
    doc = data.draw(damaged_examples(parser.name, text_trees, twice=True))
    outcome(parser, encoded(doc, form))


@settings(FUZZ, max_examples=examples(400))
@each_parser
@given(data=st.data())
def test_damaged_examples_as_dicts(parser: Parser, data: st.DataObject) -> None:
    outcome(parser, data.draw(damaged_examples(parser.name, python_trees, twice=False)))


SPLICES = [b"NaN", b"Infinity", b"1e400", b"[" * 100, b"\\ud800", b"\xff", b"\xc3", b'"',
           b",", b"}", b"{", b":", b"\x00", b" ", b"\\", b'"":1,', b"9" * 400]


@st.composite
def damaged_bytes(draw: st.DrawFn, name: str) -> bytes:
    """A valid example's bytes with random byte-level damage."""
    raw = bytearray(orjson.dumps(draw(st.sampled_from(EXAMPLES[name]))))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["flip", "insert", "splice", "delete", "cut", "repeat"]))
        if op == "flip" and i < len(raw):
            raw[i] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "splice":
            raw[i:i] = draw(st.sampled_from(SPLICES))
        elif op == "delete":
            del raw[i:i + draw(st.integers(1, 20))]
        elif op == "cut":
            del raw[i:]
        else:
            j = draw(st.integers(i, len(raw)))
            raw[j:j] = raw[i:j]
    return bytes(raw)


@settings(FUZZ, max_examples=examples(800))
@each_parser
@given(data=st.data())
def test_damaged_example_bytes(parser: Parser, data: st.DataObject) -> None:
    outcome(parser, data.draw(damaged_bytes(parser.name)))


def test_command_with_an_unknown_field_named_by_nothing() -> None:
    """Regression: an unknown field called "" gave an InvalidRecord whose field was empty."""
    base = EXAMPLES["command"][0]
    exc = outcome(PARSERS["command"], orjson.dumps({**base, "": 1}))
    assert isinstance(exc, InvalidRecord)
    assert (exc.field, exc.code, exc.problem) == ("$", "unknown_field",
                                                  "has a field with an empty name")
    exc = outcome(PARSERS["command"], orjson.dumps({**base, "k" * 5000: 1}))
    assert isinstance(exc, InvalidRecord)
    assert exc.field == "k" * 64 + "…" and exc.code == "unknown_field"


# --------------------------------------------------------------------------
# nesting, size, timestamps


@each_parser
@pytest.mark.parametrize("depth", [33, 1000, 10_000, 100_000])
@pytest.mark.parametrize("shape", ["array", "object", "after 1e400", "dict"])
def test_deep_nesting(parser: Parser, depth: int, shape: str) -> None:
    doc = copy.deepcopy(EXAMPLES[parser.name][0])
    if shape == "dict":
        nested: Any = 1
        for _ in range(depth):
            nested = {"n": nested}
        doc["deep"] = nested
        got = outcome(parser, doc)
    else:
        opening, closing = (b"[", b"]") if shape != "object" else (b'{"n":', b"}")
        big = b'"big":1e400,' if shape == "after 1e400" else b""
        raw = b"{" + big + b'"deep":' + opening * depth + b"1" + closing * depth + b","
        got = outcome(parser, raw + orjson.dumps(doc)[1:])
    assert isinstance(got, InvalidRecord)
    assert got.field == "$" and got.code in ("too_deep", "too_large")


@each_parser
@pytest.mark.parametrize("size", [60_000, 65_536, 70_000, 1_000_000])
def test_very_long_strings(parser: Parser, size: int) -> None:
    doc = copy.deepcopy(EXAMPLES[parser.name][0])
    for name in ("employee_id", "note"):
        long = dict(doc, **{name: "é" * (size // 2)})
        for form in (orjson.dumps(long), orjson.dumps(long).decode(), long):
            got = outcome(parser, form)
            if name == "employee_id":
                assert isinstance(got, InvalidRecord)


digits = st.integers(0, 99).map(lambda n: f"{n:02d}")
far_timestamps = st.one_of(
    st.builds(
        lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo}-{d}T{h}:{mi}:{s}{frac}{off}",
        st.sampled_from([0, 1, 2, 1582, 1969, 1970, 2038, 9998, 9999]) | st.integers(0, 9999),
        st.sampled_from(["01", "02", "12", "13", "00"]) | digits,
        st.sampled_from(["01", "28", "29", "30", "31", "32", "00"]) | digits,
        st.sampled_from(["00", "23", "24"]) | digits,
        st.sampled_from(["00", "59", "60"]) | digits,
        st.sampled_from(["00", "59", "60", "61"]) | digits,
        st.sampled_from(["", ".0", ".999999999", "." + "9" * 1000, ".", ".5e3"]),
        st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "+14:00",
                         "", "+0100", "+01", " Z", "Z\n"]),
    ),
    st.sampled_from(["", "now", "0", "-1", "1e400", "NaN", "9999-12-31", "T", "\ud800",
                     "２０２６-11-22T02:14:07Z", "2026-11-22T02:14:07Z" * 100]),
)
TIME_FIELDS = {"event": "timestamp", "employee": "updated_at", "command": "issued_at"}


@settings(FUZZ, max_examples=examples(400))
@each_parser
@given(stamp=far_timestamps, form=st.sampled_from(["bytes", "dict"]))
def test_timestamps_far_in_the_past_and_future(parser: Parser, stamp: str, form: str) -> None:
    doc = dict(EXAMPLES[parser.name][0], **{TIME_FIELDS[parser.name]: stamp})
    if parser.name == "employee":
        doc["last_day"] = stamp[:10]
    got = outcome(parser, doc if form == "dict" else json.dumps(doc).encode())
    if isinstance(got, InvalidRecord):
        assert got.field in (TIME_FIELDS[parser.name], "last_day", "$")


# --------------------------------------------------------------------------
# a replay of valid events mixed with garbage


garbage_lines = st.one_of(
    st.binary(min_size=1, max_size=300),
    damaged_bytes("event"),
    damaged_examples("event", text_trees, twice=True).map(emit),
    text_trees.map(emit),
)


@pytest.fixture(scope="module")
def world_sample(small_world: Path) -> tuple[Directory, list[bytes]]:
    directory, _, _ = load_directory(iter_lines(str(small_world / "employees.jsonl")))
    lines = [raw for _, raw in islice(iter_lines(str(small_world / "events.jsonl")), 300)]
    valid = [raw for raw in lines if not isinstance(outcome(PARSERS["event"], raw),
                                                     InvalidRecord)]
    return directory, valid[:200]


@settings(max_examples=examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(garbage=st.lists(garbage_lines, min_size=1, max_size=40), data=st.data())
def test_replay_rejects_every_garbage_line_and_scores_the_rest(
    world_sample: tuple[Directory, list[bytes]], garbage: list[bytes], data: st.DataObject
) -> None:
    directory, valid = world_sample
    stream = [*valid, b"{"]
    for line in garbage:
        stream.insert(data.draw(st.integers(0, len(stream))), line)
    numbered = list(enumerate(stream, 1))
    refused = {n for n, raw in numbered
               if isinstance(outcome(PARSERS["event"], raw), InvalidRecord)}
    CASES["replay lines"] += len(numbered)
    rejected: list[tuple[int, InvalidRecord]] = []
    out: list[bytes] = []
    summary, _ = replay(Settings(), numbered, directory, out.append,
                        lambda n, exc: rejected.append((n, exc)), clock=lambda: 0.0)
    assert [n for n, _ in rejected] == sorted(refused)
    assert all(exc.field and exc.problem for _, exc in rejected)
    assert summary.rejects == len(refused) == sum(summary.reject_reasons.values())
    assert summary.events == len(numbered) - len(refused) >= len(valid)
    assert all(orjson.loads(line)["type"] in ("alert", "freeze", "release") for line in out)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "0001-01-01T10:00:00Z",
                                   "9999-12-15T10:00:00Z", "9999-12-31T23:59:59Z"])
def test_valid_events_at_the_ends_of_the_calendar_are_scored(stamp: str) -> None:
    """Found by the timestamp fuzzing: the parser accepts these (the contract allows them)
    and the month-end rule once stepped past the calendar's ends on a data-out event."""
    doc = dict(EXAMPLES["event"][1], timestamp=stamp)
    summary, _ = replay(Settings(), [(1, orjson.dumps(doc))], Directory(), lambda line: None,
                        clock=lambda: 0.0)
    assert summary.events == 1


@pytest.mark.parametrize("name", ["event", "command", "employee"])
def test_a_number_beyond_decimals_exponent_range_is_refused_not_raised(name: str) -> None:
    """Found by the fuzzing: 1e4009… (thousands of exponent digits) broke the fallback decoder."""
    raw = b"1e40" + b"9" * 5000
    result = outcome(PARSERS[name], raw)
    assert isinstance(result, InvalidRecord) and result.field


# --------------------------------------------------------------------------


def test_zz_cases_tried(record_property: Callable[[str, object], None]) -> None:
    """Runs last (file order): how many inputs the parsers saw, asserted and printed."""
    assert CASES, "this test counts what the fuzz tests above tried: run it with them"
    total = sum(n for name, n in CASES.items() if name in PARSERS)
    record_property("fuzz_cases", dict(CASES))
    print(f"\nfuzz cases tried: {total} parser calls "
          f"({', '.join(f'{k} {v}' for k, v in sorted(CASES.items()))})")
    if len(CASES) >= len(PARSERS) + 1:  # the whole file ran
        assert all(CASES[name] >= 1000 for name in PARSERS), CASES
        assert CASES["replay lines"] >= 40 * 200
