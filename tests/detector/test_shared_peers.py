"""Replay with the shared peer table: the same decisions at any partition count,
and a newcomer judged against the whole group."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from detector.directory import Directory
from detector.engine import Engine
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from detector.wire.jsonl import iter_lines

SHARED = Settings()
SHARED = dataclasses.replace(
    SHARED, scoring=dataclasses.replace(SHARED.scoring, shared_peers=True))


def _actions(world: Path, settings: Settings, partitions: int) -> list[bytes]:
    directory, _, _ = load_directory(iter_lines(str(world / "employees.jsonl")))
    out: list[bytes] = []
    replay(settings, iter_lines(str(world / "events.jsonl")), directory, out.append,
           clock=lambda: 0.0, partitions=partitions)
    return out


@pytest.mark.parametrize("partitions", [3, 12])
def test_shared_peers_make_the_same_decisions_at_any_partition_count(
    small_world: Path, partitions: int
) -> None:
    one = _actions(small_world, SHARED, 1)
    assert any(b'"alert"' in line for line in one)
    # The same actions, byte for byte; a release at a freeze's expiry is written when
    # its engine's own clock passes it, so the interleaving may differ.
    many = _actions(small_world, SHARED, partitions)
    assert len(many) == len(one)
    assert {orjson.loads(x)["action_id"]: x for x in many} == {
        orjson.loads(x)["action_id"]: x for x in one}


def test_engines_of_one_replay_share_one_table(small_world: Path) -> None:
    directory, _, _ = load_directory(iter_lines(str(small_world / "employees.jsonl")))
    _, engines = replay(SHARED, iter_lines(str(small_world / "events.jsonl")), directory,
                        lambda _: None, clock=lambda: 0.0, partitions=4)
    tables = {id(e.peer_table) for e in engines}
    assert len(tables) == 1 and engines[0].peer_table is not None
    assert engines[0].peer_table.groups


def _hr(emp: str, group: str, day: int) -> bytes:
    return orjson.dumps({
        "employee_id": emp, "role": "account_manager", "peer_group": group,
        "status": "active", "timezone": "UTC", "working_hours": {"start": "00:00", "end": "23:59"},
        "updated_at": f"2026-01-{day:02d}T00:00:00Z",
    })


def _export(emp: str, day: int, hour: int, rows: int, n: int) -> bytes:
    return orjson.dumps({
        "event_id": f"{emp}-{day}-{hour}-{n}", "employee_id": emp, "action": "export",
        "timestamp": f"2026-01-{day:02d}T{hour:02d}:{n % 60:02d}:00Z",
        "record_count": rows, "customer_ids": [],
    })


def test_a_new_hires_first_large_export_is_judged_against_the_whole_group() -> None:
    directory = Directory()
    members = [f"am{i}" for i in range(8)]
    for emp in [*members, "newhire"]:
        directory.add(parse_employee(_hr(emp, "account_managers", 1)))
    # Eight peers on eight partitions, each an engine of its own over one table.
    table_engine = Engine(SHARED, directory, lambda: 0.0)
    engines = [table_engine] + [
        Engine(SHARED, directory, lambda: 0.0, peer_table=table_engine.peer_table)
        for _ in members[1:]]
    for day in range(2, 14):
        for i, emp in enumerate(members):
            for k in range(2):
                engines[i].process(parse_event(_export(emp, day, 9 + k, 300 + 10 * i, k)))
    actions = engines[0].process(parse_event(_export("newhire", 15, 10, 30000, 0)))
    alerts = [a.to_dict() for a in actions if a.to_dict().get("type") == "alert"]
    assert alerts, "a first export a hundred times the group's is alerted"
    texts = " ".join(r["text"] for a in alerts for r in a["reasons"])
    assert "peer group of 8" in texts
