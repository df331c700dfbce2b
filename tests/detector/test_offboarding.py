"""The offboarding lock in replay: a leaver's data access is locked when the last day
ends or HR terminates them, used or not, and lifted when HR reverses the status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from jsonschema import Draft202012Validator

from detector.directory import Directory
from detector.engine import Engine
from detector.partitioning import partition_for
from detector.replay import replay
from detector.settings import Settings
from detector.wire.actions import FREEZE, LOCK_SCOPE, RELEASE, Action
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from detector.wire.times import rfc3339
from tests.worldkit import START, World, at, employee

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "action.schema.json").read_text()
)


def locks(actions: list[Action], eid: str | None = None) -> list[Action]:
    return [a for a in actions if a.scope == LOCK_SCOPE and eid in (None, a.employee_id)]


def leaver_world(**extra: Any) -> World:
    """E1 leaves (notice on day 3, last day the Friday of week two, in Berlin); E2
    works on, its events moving event time on."""
    w = World(seed=5)
    w.add(employee("E1"))
    w.add(employee("E1", updated=START + timedelta(days=3), status="notice",
                   notice_date=(START + timedelta(days=3)).date().isoformat(),
                   last_day=(START + timedelta(days=11)).date().isoformat(), **extra))
    w.add(employee("E2"))
    w.workdays("E1", 0, 9)  # not used after day 8
    w.workdays("E2", 0, 21)
    return w


def last_day_end(day: int, tz: str = "Europe/Berlin") -> float:
    d = (START + timedelta(days=day + 1)).date()
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).timestamp()


def test_the_last_day_ending_locks_an_unused_account_once() -> None:
    actions, _ = leaver_world().run()
    got = locks(actions)
    assert [(a.type, a.employee_id) for a in got] == [(FREEZE, "E1")]
    lock = got[0]
    assert lock.reasons[0].code == "offboarding_last_day"
    assert lock.event_time == rfc3339(last_day_end(11))  # local midnight after the last day
    assert lock.expires_at is None and lock.action_id.startswith("freeze-")
    assert lock.employee_status == "notice"
    assert Draft202012Validator(SCHEMA).is_valid(orjson.loads(orjson.dumps(lock.to_dict())))


def test_hr_reversing_the_status_lifts_the_lock() -> None:
    w = leaver_world()
    w.add(employee("E1", updated=START + timedelta(days=15), status="active"))
    actions, _ = w.run()
    got = locks(actions, "E1")
    assert [a.type for a in got] == [FREEZE, RELEASE]
    release = got[1]
    assert release.release_reason == "hr_reversed"
    assert release.action_id.replace("release-", "") != got[0].action_id.replace("freeze-", "")
    assert release.event_time == rfc3339((START + timedelta(days=15)).timestamp())
    assert Draft202012Validator(SCHEMA).is_valid(orjson.loads(orjson.dumps(release.to_dict())))


def test_a_terminated_record_locks_at_once_and_a_rehire_lifts_it() -> None:
    w = World(seed=6)
    w.add(employee("E1"))
    w.add(employee("E1", updated=START + timedelta(days=4, hours=10), status="terminated"))
    w.add(employee("E1", updated=START + timedelta(days=9), status="active"))
    w.add(employee("E2"))
    w.workdays("E2", 0, 14)
    actions, _ = w.run()
    got = locks(actions, "E1")
    assert [(a.type, a.reasons[0].code if a.reasons else a.release_reason) for a in got] == [
        (FREEZE, "offboarding_terminated"), (RELEASE, "hr_reversed")]
    assert got[0].event_time == rfc3339((START + timedelta(days=4, hours=10)).timestamp())


def test_a_termination_after_the_last_day_adds_no_second_lock() -> None:
    w = leaver_world()
    w.add(employee("E1", updated=START + timedelta(days=13), status="terminated"))
    actions, _ = w.run()
    assert [a.type for a in locks(actions, "E1")] == [FREEZE]


def test_an_analyst_release_lifts_the_lock_and_it_stays_lifted() -> None:
    w = leaver_world()
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    engine = Engine(Settings(), directory, clock=lambda: 0.0)
    events = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    cut = next(i for i, e in enumerate(events)
               if datetime.fromisoformat(e["timestamp"]) > at(14, 12))
    actions: list[Action] = []
    for ev in events[:cut]:
        actions.extend(engine.process(parse_event(orjson.dumps(ev))))
    assert [a.type for a in locks(actions)] == [FREEZE]
    assert engine.active_freezes() == 1
    lifted = engine.release("E1", "analyst")
    assert [(a.type, a.release_reason) for a in lifted] == [(RELEASE, "analyst")]
    assert engine.active_freezes() == 0
    later: list[Action] = []
    for ev in events[cut:]:
        later.extend(engine.process(parse_event(orjson.dumps(ev))))
    assert locks(later) == []


def test_a_restored_engine_publishes_no_lock_twice() -> None:
    w = leaver_world()
    w.add(employee("E1", updated=START + timedelta(days=15), status="active"))
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    events = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    whole = Engine(Settings(), directory, clock=lambda: 0.0)
    want = [a.action_id for ev in events for a in whole.process(parse_event(orjson.dumps(ev)))
            if a.scope == LOCK_SCOPE]
    assert len(want) == 2
    got: list[str] = []
    # A checkpoint before the lock, between it and its lift, and after the lift,
    # restored into a fresh engine, which goes on.
    for cut_day in (10, 14, 16):
        first = Engine(Settings(), directory, clock=lambda: 0.0)
        cut = next(i for i, e in enumerate(events)
                   if datetime.fromisoformat(e["timestamp"]) > at(cut_day, 12))
        got = [a.action_id for ev in events[:cut]
               for a in first.process(parse_event(orjson.dumps(ev))) if a.scope == LOCK_SCOPE]
        second = Engine(Settings(), directory, clock=lambda: 0.0)
        state = {e: st for e in first.employees if (st := first.employee_state(e)) is not None}
        second.load_state(first.shared_state(), state)
        got += [a.action_id for ev in events[cut:]
                for a in second.process(parse_event(orjson.dumps(ev))) if a.scope == LOCK_SCOPE]
        assert got == want


def test_each_lock_comes_from_the_partition_that_owns_the_employee() -> None:
    w = leaver_world()
    for i in range(3, 9):  # more leavers, spread over partitions
        eid = f"E{i}"
        w.add(employee(eid))
        w.add(employee(eid, updated=START + timedelta(days=2), status="notice",
                       last_day=(START + timedelta(days=i)).date().isoformat()))
    # A partition's event time moves with its own events: one colleague works on in
    # each of the three.
    for part in range(3):
        eid = next(f"W{k}" for k in range(100) if partition_for(f"W{k}", 3) == part)
        w.add(employee(eid))
        w.workdays(eid, 0, 21)
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    events = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    lines = [orjson.dumps(e) for e in events]
    by_run = {}
    for parts in (1, 3):
        out: list[bytes] = []
        _, engines = replay(Settings(), enumerate(lines, 1), directory, out.append,
                            clock=lambda: 0.0, partitions=parts)
        docs = [orjson.loads(x) for x in out]
        mine = [d for d in docs if d.get("scope") == LOCK_SCOPE]
        by_run[parts] = sorted((d["action_id"], d["employee_id"]) for d in mine)
        if parts == 3:
            for i, engine in enumerate(engines):
                held = {e for e, (_, on) in engine.offboarding.locks.items() if on}
                assert all(partition_for(e, 3) == i for e in held)
    assert by_run[1] == by_run[3]
    assert {e for _, e in by_run[1]} == {"E1", *(f"E{i}" for i in range(3, 9))}
    assert len(by_run[1]) == 7


def test_the_lock_uses_the_employees_own_time_zone() -> None:
    w = World(seed=7)
    w.add(employee("E1", tz="America/New_York"))
    w.add(employee("E1", tz="America/New_York", updated=START + timedelta(days=1),
                   status="notice", last_day=(START + timedelta(days=4)).date().isoformat()))
    w.add(employee("E2"))
    w.workdays("E2", 0, 8)
    actions, _ = w.run()
    got = locks(actions, "E1")
    assert len(got) == 1
    end = datetime.fromisoformat(got[0].event_time.replace("Z", "+00:00"))
    assert end.astimezone(ZoneInfo("America/New_York")).hour == 0
    assert end.astimezone(UTC).hour in (4, 5)  # EDT or EST
