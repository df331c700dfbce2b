from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from consumers.cli.simulate import add_parser
from detector.simulator import (
    BENIGN_KINDS,
    MALICIOUS_KINDS,
    SimConfig,
    World,
    simulate,
    stream_world,
    write_world,
)
from detector.simulator.geography import distance_km

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# A start whose third week holds the October month end, so every kind has room.
SMALL = SimConfig(employees=60, days=21, seed=7, start=date(2026, 10, 12))
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    checker = FormatChecker()

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        if not isinstance(value, str) or not RFC3339.match(value):
            return False
        _instant(value)
        return True

    def load(name: str) -> Draft202012Validator:
        schema = json.loads((SCHEMAS / name).read_text())
        return Draft202012Validator(schema, format_checker=checker)

    return load("access-event.schema.json"), load("employee.schema.json")


@pytest.fixture(scope="module")
def world() -> World:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def directory(world: World) -> dict[str, list[dict[str, Any]]]:
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in world.employees:
        versions[rec["employee_id"]].append(rec)
    return versions


@pytest.fixture(scope="module")
def by_id(world: World) -> dict[str, dict[str, Any]]:
    return {ev["event_id"]: ev for ev in world.events}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    write_world(simulate(SMALL), tmp_path / "a")
    stream_world(SMALL, tmp_path / "b")
    other = SimConfig(employees=60, days=21, seed=8, start=date(2026, 10, 12))
    stream_world(other, tmp_path / "c")
    for name in ("events.jsonl", "employees.jsonl", "labels.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "events.jsonl").read_bytes() != (
        tmp_path / "c" / "events.jsonl").read_bytes()


def test_every_record_is_valid_under_the_contract() -> None:
    world = simulate(SimConfig(employees=40, days=14, seed=11, start=date(2026, 10, 19)))
    assert {s["kind"] for s in world.labels["scenarios"]} == set(MALICIOUS_KINDS)
    events, employees = _validators()
    bad_events = [(ev, e.message) for ev in world.events for e in events.iter_errors(ev)]
    bad_records = [(r, e.message) for r in world.employees for e in employees.iter_errors(r)]
    assert bad_events == []
    assert bad_records == []
    assert world.labels["malformed"] == []


def test_malformed_lines_are_exactly_the_listed_ones() -> None:
    w = simulate(SimConfig(employees=40, days=14, seed=3, malformed_rate=0.02))
    events, _ = _validators()
    listed = {m["line"]: m for m in w.labels["malformed"]}
    assert len(listed) > 0.01 * len(w.events)
    invalid = {i for i, ev in enumerate(w.events, start=1) if not events.is_valid(ev)}
    assert invalid == set(listed)
    for line, entry in listed.items():
        assert entry["defect"]
        if entry["event_id"] is not None:
            assert w.events[line - 1]["event_id"] == entry["event_id"]
    malicious = {i for s in w.labels["scenarios"] for i in s["event_ids"]}
    assert not malicious & {m["event_id"] for m in listed.values()}


def test_event_ids_unique_and_events_sorted_by_time(world: World) -> None:
    ids = [ev["event_id"] for ev in world.events]
    assert len(ids) == len(set(ids))
    times = [_instant(ev["timestamp"]) for ev in world.events]
    assert all(a <= b for a, b in pairwise(times))
    assert 30_000 < len(world.events) < 200_000


def test_wire_format_varies_like_real_producers(world: World) -> None:
    stamps = [ev["timestamp"] for ev in world.events]
    assert sum(s.endswith("Z") for s in stamps) > 0.3 * len(stamps)
    assert sum(not s.endswith("Z") for s in stamps) > 0.1 * len(stamps)
    assert any("." in s for s in stamps)
    assert any("geo" not in ev for ev in world.events)
    assert any("lat" in ev.get("geo", {}) for ev in world.events)


def test_labels_have_the_agreed_shape(world: World) -> None:
    labels = world.labels
    assert set(labels) == {"format", "seed", "start", "end", "days", "employees", "scenarios",
                           "benign", "malformed", "notes"}
    assert (labels["format"], labels["seed"], labels["days"], labels["employees"]) == (
        1, 7, 21, 60)
    for s in labels["scenarios"]:
        assert set(s) == {"id", "kind", "employee_id", "malicious", "start", "end", "event_ids",
                          "description"}
        assert s["malicious"] is True and re.fullmatch(r"scn-\d{4}", s["id"])
    for b in labels["benign"]:
        assert set(b) == {"id", "kind", "employee_id", "malicious", "start", "end",
                          "description"}
        assert b["malicious"] is False and re.fullmatch(r"bng-\d{4}", b["id"])


def test_every_kind_is_planted_on_its_own_employee(world: World,
                                                   by_id: dict[str, dict[str, Any]]) -> None:
    scenarios, benign = world.labels["scenarios"], world.labels["benign"]
    assert {s["kind"] for s in scenarios} == set(MALICIOUS_KINDS)
    assert {b["kind"] for b in benign} == set(BENIGN_KINDS)
    people = [c["employee_id"] for c in scenarios + benign]
    assert len(people) == len(set(people))
    start = _instant(world.labels["start"])
    warm = start.timestamp() + SMALL.warmup_day * 86400
    for s in scenarios:
        assert s["event_ids"], s["kind"]
        events = [by_id[i] for i in s["event_ids"]]
        assert all(ev["employee_id"] == s["employee_id"] for ev in events)
        times = sorted(_instant(ev["timestamp"]) for ev in events)
        assert times[0] == _instant(s["start"]) and times[-1] == _instant(s["end"])
        assert times[0].timestamp() > warm


def test_data_out_intensities_separate_only_by_context(world: World,
                                                       by_id: dict[str, dict[str, Any]]) -> None:
    rows = [ev.get("record_count", 0) for ev in world.events if ev["action"] == "export"]
    rows.sort()
    assert rows[len(rows) // 2] < 400
    bulk = next(s for s in world.labels["scenarios"] if s["kind"] == "off_hours_bulk_export")
    moved = sum(by_id[i].get("record_count", 0) for i in bulk["event_ids"]
                if by_id[i]["action"] == "export")
    assert 1_500 <= moved <= 25_000
    marketing = [ev.get("record_count", 0) for ev in world.events if ev["action"] == "export"
                 and ev["employee_id"] in {b["employee_id"] for b in world.labels["benign"]
                                           if b["kind"] == "marketing_bulk_export"}]
    assert max(marketing) >= 1_500


def test_out_of_territory_export_is_mostly_foreign(world: World,
                                                   directory: dict[str, list[dict[str, Any]]],
                                                   by_id: dict[str, dict[str, Any]]) -> None:
    case = next(s for s in world.labels["scenarios"] if s["kind"] == "out_of_territory_export")
    own = set(directory[case["employee_id"]][-1]["territories"])
    outside = inside = 0
    for i in case["event_ids"]:
        ev = by_id[i]
        if ev["action"] != "export":
            continue
        counts = ev.get("territories") or Counter(c["territory"] for c in ev["customers"])
        outside += sum(n for t, n in counts.items() if t not in own)
        inside += sum(n for t, n in counts.items() if t in own)
    assert outside > 2 * inside


def test_terminated_account_use_comes_after_the_terminated_record(
        world: World, directory: dict[str, list[dict[str, Any]]],
        by_id: dict[str, dict[str, Any]]) -> None:
    cases = [s for s in world.labels["scenarios"] if s["kind"] == "terminated_account_use"]
    assert cases
    for case in cases:
        ended = [r for r in directory[case["employee_id"]] if r["status"] == "terminated"]
        assert len(ended) == 1
        gone = _instant(ended[0]["updated_at"])
        assert all(_instant(by_id[i]["timestamp"]) > gone for i in case["event_ids"])
        others = [ev for ev in world.events if ev["employee_id"] == case["employee_id"]
                  and _instant(ev["timestamp"]) > gone]
        assert {ev["event_id"] for ev in others} <= set(case["event_ids"])


def test_impossible_travel_needs_more_than_1000_kmh(world: World,
                                                    by_id: dict[str, dict[str, Any]]) -> None:
    for case in (s for s in world.labels["scenarios"] if s["kind"] == "impossible_travel"):
        first = by_id[case["event_ids"][0]]
        t1 = _instant(first["timestamp"])
        before = [ev for ev in world.events if ev["employee_id"] == case["employee_id"]
                  and "lat" in ev.get("geo", {}) and _instant(ev["timestamp"]) < t1]
        last = max(before, key=lambda ev: _instant(ev["timestamp"]))
        km = distance_km(last["geo"]["lat"], last["geo"]["lon"], first["geo"]["lat"],
                         first["geo"]["lon"])
        hours = (t1 - _instant(last["timestamp"])).total_seconds() / 3600
        assert km / hours > 1000


def test_business_travel_moves_at_airliner_speed(world: World) -> None:
    case = next(b for b in world.labels["benign"] if b["kind"] == "business_travel")
    located = [ev for ev in world.events if ev["employee_id"] == case["employee_id"]
               and "lat" in ev.get("geo", {})]
    cities = {ev["geo"]["city"] for ev in located}
    assert len(cities) >= 2
    for a, b in pairwise(located):
        km = distance_km(a["geo"]["lat"], a["geo"]["lon"], b["geo"]["lat"], b["geo"]["lon"])
        hours = (_instant(b["timestamp"]) - _instant(a["timestamp"])).total_seconds() / 3600
        if km > 50:
            assert km / max(hours, 1e-9) < 1000


def test_night_shift_workers_work_at_night(world: World,
                                           directory: dict[str, list[dict[str, Any]]]) -> None:
    night = {k for k, v in directory.items() if v[-1]["working_hours"]["start"] == "22:00"}
    assert night
    hours = []
    for ev in world.events:
        if ev["employee_id"] in night:
            zone = ZoneInfo(directory[ev["employee_id"]][-1]["timezone"])
            hours.append(_instant(ev["timestamp"]).astimezone(zone).hour)
    at_night = sum(h >= 21 or h < 7 for h in hours)
    assert at_night > 0.9 * len(hours)


def test_day_workers_follow_office_hours(world: World,
                                         directory: dict[str, list[dict[str, Any]]]) -> None:
    day = {k for k, v in directory.items()
           if v[-1]["role"] in ("sales_rep", "account_manager")}
    local = Counter()
    for ev in world.events:
        if ev["employee_id"] in day:
            zone = ZoneInfo(directory[ev["employee_id"]][-1]["timezone"])
            stamp = _instant(ev["timestamp"]).astimezone(zone)
            local["weekend" if stamp.weekday() >= 5 else "office" if 7 <= stamp.hour < 19
                  else "night"] += 1
    total = sum(local.values())
    assert local["office"] > 0.9 * total
    assert 0 < local["weekend"] < 0.05 * total


def test_nobody_works_before_hire_or_after_leaving(world: World,
                                                   directory: dict[str, list[dict[str, Any]]]
                                                   ) -> None:
    first_seen: dict[str, datetime] = {}
    last_seen: dict[str, datetime] = {}
    insider = {i for s in world.labels["scenarios"] for i in s["event_ids"]}
    for ev in world.events:
        if ev["event_id"] in insider:
            continue
        t = _instant(ev["timestamp"])
        first_seen.setdefault(ev["employee_id"], t)
        last_seen[ev["employee_id"]] = t
    start = _instant(world.labels["start"])
    hires = 0
    for emp, versions in directory.items():
        joined = _instant(versions[0]["updated_at"])
        if joined > start:
            hires += 1
            assert emp not in first_seen or first_seen[emp] > joined
        for rec in versions:
            if rec["status"] == "terminated" and emp in last_seen:
                assert last_seen[emp] < _instant(rec["updated_at"])
    assert hires >= 1


def test_territory_reassignment_moves_the_work(world: World,
                                               directory: dict[str, list[dict[str, Any]]]
                                               ) -> None:
    case = next(b for b in world.labels["benign"] if b["kind"] == "territory_reassignment")
    versions = directory[case["employee_id"]]
    moved = next(r for r in versions if _instant(r["updated_at"]) >= _instant(case["start"]))
    new = set(moved["territories"])
    assert new != set(versions[0]["territories"])
    after = [c["territory"] for ev in world.events
             if ev["employee_id"] == case["employee_id"] and ev["action"] == "view"
             and _instant(ev["timestamp"]) > _instant(moved["updated_at"])
             for c in ev.get("customers", []) if "territory" in c]
    assert after and sum(t in new for t in after) > 0.6 * len(after)


def test_short_periods_say_what_they_left_out() -> None:
    w = simulate(SimConfig(employees=40, days=8, seed=1))
    notes = " ".join(w.labels["notes"])
    assert "slow_escalation" in notes
    assert "month_end_finance" in notes
    tiny = simulate(SimConfig(employees=40, days=3, seed=1))
    assert tiny.labels["scenarios"] == [] and tiny.labels["notes"]


def test_cli_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", "--out", str(tmp_path), "--employees", "45",
                              "--days", "10", "--seed", "2", "--start", "2026-10-05",
                              "--malformed-rate", "0.001"])
    assert args.func(args) == 0
    summary = capsys.readouterr().out
    events = (tmp_path / "events.jsonl").read_bytes().splitlines()
    records = (tmp_path / "employees.jsonl").read_bytes().splitlines()
    labels = orjson.loads((tmp_path / "labels.json").read_bytes())
    assert f"{len(events):,} events" in summary and "scenarios" in summary
    assert len({orjson.loads(r)["employee_id"] for r in records}) == 45
    assert labels["employees"] == 45 and labels["days"] == 10
    assert math.isclose(len(labels["malformed"]) / len(events), 0.001, abs_tol=0.002)
