"""Directory records: parsing against the employee contract, versions by time, local time."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from detector.directory import Directory, load_jsonl
from detector.errors import InvalidRecord
from detector.features import in_working_hours, local_clock
from detector.wire.employees import DAYS, EmployeeRecord, parse_date, parse_employee, resolve_zone
from detector.wire.times import parse_timestamp
from tests.contract import contract_file, drop, set_at

SCHEMA = json.loads(contract_file("employee.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
KNOWN = set(SCHEMA["properties"])
SECRET = "Zq9-secret-value"
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z
# ECMA-262 "$" is the end of input; Python's also matches before a final newline.
_HHMM = re.compile(r"[0-2][0-9]:[0-5][0-9]")


def rec(status: str = "active", updated_at: float = T0, **kw: Any) -> EmployeeRecord:
    return EmployeeRecord(employee_id=kw.pop("employee_id", "E1"), updated_at=updated_at,
                          status=status, peer_group=kw.pop("peer_group", "sales"), **kw)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def oracle_valid(doc: Any) -> bool:
    if not VALIDATOR.is_valid(doc):
        return False
    if parse_timestamp(doc["updated_at"]) is None:
        return False
    wh = doc.get("working_hours", {})
    return all(_HHMM.fullmatch(wh[k]) for k in ("start", "end") if k in wh)


# ---------------------------------------------------------------------------
# strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 29), st.integers(0, 59))
utc_stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.isoformat().replace("+00:00", "Z"))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
                         "Mars/Olympus_Mons", "", "../etc/passwd", "Europe/Berlin/"])


@st.composite
def valid_employees(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(
        st.fixed_dictionaries(
            {
                "employee_id": st.text(min_size=1, max_size=128),
                "updated_at": utc_stamps,
                "status": st.sampled_from(["active", "notice", "leave", "terminated"]),
            },
            optional={
                "notice_date": st.dates().map(date.isoformat),
                "last_day": st.dates().map(date.isoformat),
                "role": st.text(max_size=10),
                "department": st.text(max_size=10),
                "peer_group": st.text(max_size=10),
                "territories": st.lists(st.text(max_size=6) | st.just("*"), max_size=4),
                "timezone": zones,
                "working_hours": st.fixed_dictionaries(
                    {},
                    optional={
                        "days": st.lists(st.sampled_from(DAYS), max_size=7),
                        "start": clock,
                        "end": clock,
                    },
                ),
                "manager_id": st.text(max_size=8),
            },
        )
    )
    extra = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in KNOWN),
                                 json_values, max_size=2))
    return {**extra, **doc}


def encode(doc: Any, form: str) -> Any:
    if form == "dict":
        return doc
    text = json.dumps(doc, ensure_ascii=False)
    return text if form == "str" else text.encode()


forms = st.sampled_from(["bytes", "str", "dict"])

# ---------------------------------------------------------------------------
# parse_employee


def test_full_record() -> None:
    r = parse_employee(
        b'{"employee_id":"E1042","updated_at":"2026-11-01T08:00:00+01:00","status":"notice",'
        b'"notice_date":"2026-10-30","last_day":"2026-11-30","role":"account_exec",'
        b'"department":"sales","territories":["DE-North","DE-South"],"timezone":"Europe/Berlin",'
        b'"working_hours":{"days":["mon","tue","wed","thu","fri"],"start":"08:30","end":"17:30"},'
        b'"manager_id":"E7","x-extra":{"a":[1]}}'
    )
    assert r.employee_id == "E1042" and r.status == "notice"
    assert r.updated_at == datetime(2026, 11, 1, 7, tzinfo=UTC).timestamp()
    assert r.notice_date == date(2026, 10, 30) and r.last_day == date(2026, 11, 30)
    assert r.peer_group == "account_exec" and r.department == "sales" and r.manager_id == "E7"
    assert r.territories == frozenset({"DE-North", "DE-South"}) and not r.all_territories
    assert r.tz_name == "Europe/Berlin" and r.tz is not None
    assert r.working_days == frozenset(range(5)) and (r.work_start, r.work_end) == (510, 1050)
    assert r.warnings == ()


@SLOW
@given(doc=valid_employees(), form=forms)
def test_valid_employees_round_trip(doc: dict[str, Any], form: str) -> None:
    assert oracle_valid(doc)
    r = parse_employee(encode(doc, form))
    assert r.employee_id == doc["employee_id"] and r.status == doc["status"]
    assert r.updated_at == parse_timestamp(doc["updated_at"])
    assert r.role == doc.get("role") and r.manager_id == doc.get("manager_id")
    assert r.peer_group == (doc.get("peer_group") or doc.get("role") or "unassigned")
    for name in ("notice_date", "last_day"):
        got = getattr(r, name)
        assert (got.isoformat() if got else None) == doc.get(name)
    terr = doc.get("territories")
    assert r.all_territories == (terr is not None and "*" in terr)
    assert r.territories == (None if terr is None else frozenset(terr) - {"*"})
    zone = doc.get("timezone")
    known = zone is not None and resolve_zone(zone)[1]
    assert r.tz_name == (zone if known else "UTC")
    assert any(w.startswith("timezone") for w in r.warnings) == (zone is not None and not known)
    wh = doc.get("working_hours", {})
    if "days" in wh:
        assert r.working_days == frozenset(DAYS.index(d) for d in wh["days"])
    else:
        assert r.working_days is None
    start, end = wh.get("start"), wh.get("end")
    usable = start is not None and end is not None and start < "24:00" and end <= "24:00"
    assert (r.work_start is not None) == usable == (r.work_end is not None)
    if r.work_start is not None and r.work_end is not None:
        assert f"{r.work_start // 60:02d}:{r.work_start % 60:02d}" == start
        assert f"{r.work_end // 60:02d}:{r.work_end % 60:02d}" == end
    assert any(w.startswith("working_hours") for w in r.warnings) == (
        (start is not None or end is not None) and not usable
    )


def test_peer_group_defaults() -> None:
    base = {"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z", "status": "active"}
    assert parse_employee(base).peer_group == "unassigned"
    assert parse_employee({**base, "role": "sdr"}).peer_group == "sdr"
    assert parse_employee({**base, "role": "sdr", "peer_group": "inside"}).peer_group == "inside"


def test_all_territories() -> None:
    base = {"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z", "status": "active"}
    r = parse_employee({**base, "territories": ["*"]})
    assert r.all_territories and r.territories == frozenset()
    r = parse_employee({**base, "territories": ["FR", "*"]})
    assert r.all_territories and r.territories == frozenset({"FR"})
    r = parse_employee({**base, "territories": []})
    assert not r.all_territories and r.territories == frozenset()


def test_unknown_timezone_is_a_warning_not_an_error() -> None:
    r = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                        "status": "active", "timezone": SECRET})
    assert r.tz is None and r.tz_name == "UTC"
    assert len(r.warnings) == 1 and r.warnings[0].startswith("timezone")
    assert SECRET not in r.warnings[0]


def test_zone_objects_are_cached() -> None:
    a, known = resolve_zone("Asia/Tokyo")
    b, _ = resolve_zone("Asia/Tokyo")
    assert known and a is b and a is not None


@pytest.mark.parametrize(
    ("hours", "start", "end", "warned"),
    [
        ({"start": "27:00", "end": "18:00"}, None, None, "working_hours.start"),
        ({"start": "09:00", "end": "24:30"}, None, None, "working_hours.end"),
        ({"start": "24:00", "end": "06:00"}, None, None, "working_hours.start"),
        ({"start": "09:00", "end": "24:00"}, 540, 1440, None),
        ({"start": "22:00", "end": "06:00"}, 1320, 360, None),
        ({"start": "09:00"}, None, None, "working_hours"),
        ({"days": ["sat"]}, None, None, None),
    ],
)
def test_impossible_but_schema_valid_hours(
    hours: dict[str, Any], start: int | None, end: int | None, warned: str | None
) -> None:
    r = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                        "status": "active", "working_hours": hours})
    assert (r.work_start, r.work_end) == (start, end)
    if warned is None:
        assert r.warnings == ()
    else:
        assert len(r.warnings) == 1 and r.warnings[0].split(":")[0] == warned
    if "days" in hours:
        assert r.working_days == frozenset({5})


MUTATIONS: list[tuple[str, str, Any]] = [
    *[(f, "missing_field", drop(f)) for f in ("employee_id", "updated_at", "status")],
    ("employee_id", "bad_length", set_at(("employee_id",), "")),
    ("employee_id", "bad_length", set_at(("employee_id",), SECRET * 10)),
    ("employee_id", "wrong_type", set_at(("employee_id",), 1042)),
    ("updated_at", "bad_timestamp", set_at(("updated_at",), "2026-11-01T08:00:00")),
    ("updated_at", "bad_timestamp", set_at(("updated_at",), SECRET)),
    ("updated_at", "wrong_type", set_at(("updated_at",), None)),
    ("status", "bad_enum", set_at(("status",), SECRET)),
    ("status", "wrong_type", set_at(("status",), True)),
    ("notice_date", "bad_date", set_at(("notice_date",), "2026-02-30")),
    ("notice_date", "bad_date", set_at(("notice_date",), "2026-2-3")),
    ("last_day", "bad_date", set_at(("last_day",), "2026-11-30T00:00:00Z")),
    ("last_day", "wrong_type", set_at(("last_day",), 20261130)),
    ("role", "wrong_type", set_at(("role",), None)),
    ("department", "wrong_type", set_at(("department",), ["sales"])),
    ("peer_group", "wrong_type", set_at(("peer_group",), 3)),
    ("manager_id", "wrong_type", set_at(("manager_id",), {})),
    ("territories", "wrong_type", set_at(("territories",), "DE")),
    ("territories[1]", "wrong_type", set_at(("territories",), ["DE", 4])),
    ("timezone", "wrong_type", set_at(("timezone",), 1)),
    ("working_hours", "wrong_type", set_at(("working_hours",), "9-5")),
    ("working_hours.days", "wrong_type", set_at(("working_hours", "days"), "mon")),
    ("working_hours.days[1]", "bad_enum", set_at(("working_hours", "days"), ["mon", SECRET])),
    ("working_hours.days[0]", "bad_enum", set_at(("working_hours", "days"), ["Mon"])),
    ("working_hours.start", "bad_time", set_at(("working_hours", "start"), "9:00")),
    ("working_hours.start", "bad_time", set_at(("working_hours", "start"), "09:60")),
    ("working_hours.start", "bad_time", set_at(("working_hours", "start"), "31:00")),
    ("working_hours.end", "bad_time", set_at(("working_hours", "end"), "17:00:00")),
    ("working_hours.end", "bad_time", set_at(("working_hours", "end"), "17:00\n")),
    ("working_hours.end", "wrong_type", set_at(("working_hours", "end"), 1700)),
]


@SLOW
@given(doc=valid_employees(), mutation=st.sampled_from(MUTATIONS), form=forms)
def test_mutations_name_the_field(
    doc: dict[str, Any], mutation: tuple[str, str, Any], form: str
) -> None:
    field, code, apply = mutation
    base = {k: v for k, v in doc.items() if k != "working_hours"}
    broken = apply(base)
    assert not oracle_valid(broken)
    with pytest.raises(InvalidRecord) as info:
        parse_employee(encode(broken, form))
    assert (info.value.field, info.value.code) == (field, code)
    assert SECRET not in str(info.value)


def test_nesting_and_size_limits() -> None:
    nested: Any = 1
    for _ in range(40):
        nested = [nested]
    doc = {"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z", "status": "active",
           "x": nested}
    for form in ("bytes", "dict"):
        with pytest.raises(InvalidRecord) as info:
            parse_employee(encode(doc, form))
        assert (info.value.field, info.value.code) == ("$", "too_deep")
    with pytest.raises(InvalidRecord) as info:
        parse_employee(encode(doc, "bytes"), max_bytes=50)
    assert info.value.code == "too_large"


@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    try:
        r = parse_employee(raw)
    except InvalidRecord as exc:
        assert exc.field and exc.code
    else:
        assert isinstance(r, EmployeeRecord)


@SLOW
@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            "employee_id": st.text(max_size=3) | json_values,
            "updated_at": utc_stamps | json_values,
            "status": st.sampled_from(["active", "gone"]) | json_values,
            "notice_date": st.dates().map(date.isoformat) | st.text(max_size=10) | json_values,
            "territories": st.lists(st.text(max_size=2) | json_values, max_size=3) | json_values,
            "working_hours": st.fixed_dictionaries(
                {}, optional={"days": st.lists(st.sampled_from([*DAYS, "x"]), max_size=2),
                              "start": clock | st.text(max_size=5) | json_values}
            ) | json_values,
        },
    ),
    form=forms,
)
def test_accepts_exactly_the_valid_employees(doc: dict[str, Any], form: str) -> None:
    valid = oracle_valid(doc) if isinstance(doc.get("updated_at"), str) else VALIDATOR.is_valid(doc)
    try:
        parse_employee(encode(doc, form))
    except InvalidRecord as exc:
        assert not valid, f"valid record refused: {exc}"
    else:
        assert valid, "invalid record accepted"


def test_parse_date() -> None:
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    for bad in ("2023-02-29", "0000-01-01", "2024-1-01", "20240101", "2024-01-01\n",
                "２０２４-01-01"):
        assert parse_date(bad) is None


# ---------------------------------------------------------------------------
# the versioned directory


def test_at_before_first_version_is_none() -> None:
    d = Directory()
    d.add(rec(updated_at=T0))
    assert d.at("E1", T0 - 1) is None
    assert d.at("E1", T0) is not None
    assert d.at("E2", T0) is None
    assert "E1" in d and "E2" not in d and len(d) == 1


@given(
    times=st.lists(st.integers(0, 10**6), min_size=1, max_size=12, unique=True),
    order=st.randoms(use_true_random=False),
    probes=st.lists(st.integers(-10, 10**6 + 10), max_size=20),
)
def test_versions_apply_by_updated_at_in_any_insertion_order(
    times: list[int], order: Any, probes: list[int]
) -> None:
    records = [rec(updated_at=float(t), peer_group=f"g{t}") for t in times]
    shuffled = list(records)
    order.shuffle(shuffled)
    d = Directory(shuffled)
    assert [r.updated_at for r in d.versions("E1")] == sorted(float(t) for t in times)
    latest = d.latest("E1")
    assert latest is not None and latest.updated_at == max(times)
    for p in [*probes, *times]:
        want = max((t for t in times if t <= p), default=None)
        got = d.at("E1", float(p))
        assert (got.updated_at if got else None) == (None if want is None else float(want))


def test_same_updated_at_replaces() -> None:
    d = Directory()
    d.add(rec("active", T0))
    d.add(rec("notice", T0))
    got = d.at("E1", T0)
    assert got is not None and got.status == "notice" and len(d.versions("E1")) == 1
    d.add(rec("active", T0 + 10))
    d.add(rec("leave", T0 + 10))
    d.add(rec("terminated", T0))
    assert [r.status for r in d.versions("E1")] == ["terminated", "leave"]


def test_future_dated_termination_takes_effect_at_its_time() -> None:
    d = Directory()
    d.add(rec("active", T0))
    d.add(rec("terminated", T0 + 86400 * 30))  # HR entered it ahead of the last day
    before = d.at("E1", T0 + 86400 * 29)
    after = d.at("E1", T0 + 86400 * 30)
    assert before is not None and before.status == "active"
    assert after is not None and after.status == "terminated"
    latest = d.latest("E1")
    assert latest is not None and latest.status == "terminated"


def test_many_employees() -> None:
    d = Directory(rec(employee_id=f"E{i}", updated_at=T0 + i) for i in range(100))
    assert len(d) == 100 and set(d) == {f"E{i}" for i in range(100)}
    assert d.at("E5", T0 + 4) is None and d.at("E5", T0 + 5) is not None
    assert d.latest("nobody") is None and d.versions("nobody") == ()


def test_load_jsonl_reports_rejects_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        json.dumps({"employee_id": "E1", "updated_at": iso(T0 + 100), "status": "terminated"}),
        "",
        json.dumps({"employee_id": "E1", "updated_at": iso(T0), "status": "active"}),
        '{"employee_id": "E2", "status": "active"}',
        "not json",
        json.dumps({"employee_id": "E2", "updated_at": iso(T0), "status": "leave"}),
    ]
    path = tmp_path / "directory.jsonl"
    path.write_text("\n".join(lines))
    for source in (str(path), path, lines, [(i + 1, s.encode()) for i, s in enumerate(lines)]):
        d, rejects = load_jsonl(source)
        assert [(n, e.field, e.code) for n, e in rejects] == [
            (4, "updated_at", "missing_field"), (5, "$", "not_json")
        ]
        assert len(d) == 2 and len(d.versions("E1")) == 2
        first, later = d.at("E1", T0), d.at("E1", T0 + 100)
        assert first is not None and first.status == "active"
        assert later is not None and later.status == "terminated"


# ---------------------------------------------------------------------------
# local time and working hours


def _hour(rec: EmployeeRecord | None, ts: float) -> int:
    """The employee's local hour of day at ``ts``."""
    return local_clock(rec.tz if rec is not None else None, ts)[0] % 24


def test_local_time_follows_the_zone_and_dst() -> None:
    r = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                        "status": "active", "timezone": "Europe/Berlin"})
    winter = _hour(r, datetime(2026, 1, 15, 12, tzinfo=UTC).timestamp())
    summer = _hour(r, datetime(2026, 7, 15, 12, tzinfo=UTC).timestamp())
    assert (winter, summer) == (13, 14)
    assert local_clock(None, 0.0) == (0, 3 * 24, 0)  # 1970-01-01 was a Thursday


def test_local_time_at_the_edges_of_time() -> None:
    r = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                        "status": "active", "timezone": "Pacific/Kiritimati"})
    for text in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"):
        ts = parse_timestamp(text)
        assert ts is not None
        assert 0 <= _hour(r, ts) <= 23


def is_working_time(rec: EmployeeRecord, when: datetime) -> bool | None:
    """The directory's answer for a local wall-clock time, with no margin."""
    return in_working_hours(rec, when.weekday() * 24 + when.hour,
                            when.hour * 60 + when.minute, 0)


def _shift(start: str, end: str, days: list[str] | None = None) -> EmployeeRecord:
    hours: dict[str, Any] = {"start": start, "end": end}
    if days is not None:
        hours["days"] = days
    return parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                           "status": "active", "working_hours": hours})


# 2026-11-20 is a Friday.
@pytest.mark.parametrize(
    ("when", "working"),
    [
        (datetime(2026, 11, 20, 21, 59), False),
        (datetime(2026, 11, 20, 22, 0), True),  # Friday shift starts
        (datetime(2026, 11, 21, 3, 0), True),  # Saturday small hours: Friday's shift
        (datetime(2026, 11, 21, 5, 59), True),
        (datetime(2026, 11, 21, 6, 0), False),
        (datetime(2026, 11, 21, 22, 30), False),  # Saturday night: no shift starts
        (datetime(2026, 11, 16, 3, 0), False),  # Monday small hours: Sunday has no shift
        (datetime(2026, 11, 17, 3, 0), True),  # Tuesday small hours: Monday's shift
    ],
)
def test_night_shift_belongs_to_the_day_it_started(when: datetime, working: bool) -> None:
    r = _shift("22:00", "06:00", ["mon", "tue", "wed", "thu", "fri"])
    assert is_working_time(r, when) is working


def test_day_shift_and_whole_day() -> None:
    r = _shift("09:00", "17:30", ["mon", "tue", "wed", "thu", "fri"])
    assert is_working_time(r, datetime(2026, 11, 20, 9, 0)) is True
    assert is_working_time(r, datetime(2026, 11, 20, 17, 30)) is False
    assert is_working_time(r, datetime(2026, 11, 21, 12, 0)) is False  # Saturday
    r = _shift("00:00", "24:00")
    assert is_working_time(r, datetime(2026, 11, 21, 23, 59)) is True


def test_no_hours_means_no_answer() -> None:
    none = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                           "status": "active"})
    assert is_working_time(none, datetime(2026, 11, 20, 3, 0)) is None
    days_only = parse_employee({"employee_id": "E", "updated_at": "2026-01-01T00:00:00Z",
                                "status": "active", "working_hours": {"days": ["sat"]}})
    assert is_working_time(days_only, datetime(2026, 11, 21, 3, 0)) is True
    assert is_working_time(days_only, datetime(2026, 11, 20, 12, 0)) is False
