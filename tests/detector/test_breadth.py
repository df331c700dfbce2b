"""Repeated look-ups of one customer and mass deletes/updates: each insider case
is alerted with its reason code, and its benign look-alike is not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson

from detector.analysis.evaluation import evaluate
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.simulator import stream_world
from detector.simulator.config import SimConfig
from detector.wire.actions import Action
from detector.wire.jsonl import iter_lines
from tests.worldkit import World, alerts_for, at, codes, team

DAY = 30  # a Tuesday, clear of the month-end


def history() -> tuple[World, list[str]]:
    w = World(3)
    return w, team(w, n=6, days=35)


def one(customer: str, tier: str) -> list[dict[str, str]]:
    return [{"id": customer, "territory": "DE-North", "tier": tier}]


def test_burst_of_lookups_of_one_key_customer_is_alerted_without_its_id() -> None:
    w, ids = history()
    eid = ids[0]
    for i in range(30):
        action = "view" if i % 3 else "search"
        w.event(eid, at(DAY, 10) + timedelta(seconds=40 * i), action,
                customers=one("C-KEY-77", "high"))
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine and "repeated_lookups" in codes(mine)
    reason = next(r for a in mine for r in a.reasons if r.code == "repeated_lookups")
    assert "high-value" in reason.text
    assert reason.details["lookups_30m"] >= Settings().scoring.lookup_min_count
    assert "C-KEY-77" not in json.dumps([a.to_dict() for a in actions])


def test_support_case_worked_over_two_hours_is_not_alerted() -> None:
    w, ids = history()
    eid = ids[1]
    # One customer looked at every ten minutes for two hours, between other work.
    for i in range(12):
        w.event(eid, at(DAY, 9) + timedelta(minutes=10 * i), "view",
                customers=one("C-CASE-5", "high"))
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_mass_delete_in_batches_is_alerted() -> None:
    w, ids = history()
    eid = ids[2]
    for i in range(8):
        w.event(eid, at(DAY, 14) + timedelta(minutes=4 * i), "delete", 60,
                object_type="account")
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine and "mass_delete" in codes(mine)
    assert mine[0].severity in ("low", "medium", "high", "critical")


def test_single_deletes_add_up() -> None:
    w, ids = history()
    eid = ids[3]
    for i in range(300):
        w.event(eid, at(DAY, 15) + timedelta(seconds=10 * i), "delete", 1)
    actions, _ = w.run()
    assert "mass_delete" in codes(alerts_for(actions, eid))


def test_month_end_dedupe_of_a_few_dozen_is_not_alerted() -> None:
    w, ids = history()
    eid = ids[4]
    for i in range(40):
        w.event(eid, at(DAY, 16) + timedelta(minutes=1.5 * i), "delete", 1)
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_a_sync_job_writing_steadily_learns_its_hours() -> None:
    w, ids = history()
    eid = ids[5]
    # Ten days of 400 updates an hour in eight batches, then a busier day of
    # about 700 an hour: more than the floor, within what its hours taught.
    for day in range(20, DAY + 1):
        for hour in range(8, 18):
            for k in range(8):
                w.event(eid, at(day, hour, 7 * k), "update", 88 if day == DAY else 50)
    actions, _ = w.run()
    assert "mass_update" not in codes(alerts_for(actions, eid))


def test_mass_update_far_above_the_floor_is_alerted() -> None:
    w, ids = history()
    eid = ids[5]
    for k in range(6):
        w.event(eid, at(DAY, 11, 5 * k), "update", 400)
    actions: list[Action]
    actions, _ = w.run()
    assert "mass_update" in codes(alerts_for(actions, eid))


def test_simulated_lookups_and_deletes_are_alerted_and_their_look_alikes_are_not(
    tmp_path: Path,
) -> None:
    counts = {"repeated_lookups": 3, "mass_delete": 3, "support_case": 3, "month_end_dedupe": 2}
    stream_world(SimConfig(employees=120, days=21, seed=77, scenario_rate=0.0, benign_rate=0.0,
                           scenario_counts=counts), tmp_path)
    directory, _, _ = load_directory(iter_lines(str(tmp_path / "employees.jsonl")))
    lines: list[bytes] = []
    replay(Settings(), iter_lines(str(tmp_path / "events.jsonl")), directory, lines.append,
           clock=lambda: 0.0)
    actions = [orjson.loads(x) for x in lines]
    truth = orjson.loads((tmp_path / "labels.json").read_bytes())
    kinds = [sc["kind"] for sc in truth["scenarios"]]
    assert sorted(kinds) == ["mass_delete"] * 3 + ["repeated_lookups"] * 3
    assert sorted(b["kind"] for b in truth["benign"]) == (
        ["month_end_dedupe"] * 2 + ["support_case"] * 3)
    ev = evaluate(truth, actions)
    assert ev.recall == 1.0, ev.to_dict()["missed"]
    assert ev.benign_alerted == {}
    expected = {"repeated_lookups": "repeated_lookups", "mass_delete": "mass_delete"}
    for sc in truth["scenarios"]:
        mine = [a for a in actions if a["type"] == "alert"
                and a["employee_id"] == sc["employee_id"]]
        assert expected[sc["kind"]] in {r["code"] for a in mine for r in a["reasons"]}


MUNICH = {"country": "DE", "city": "Munich", "lat": 48.14, "lon": 11.58}


def test_a_second_device_far_away_at_the_same_time_is_alerted_even_at_a_known_place() -> None:
    w, ids = history()
    eid = ids[0]
    # The employee has worked from Munich before: a known place, so no travel.
    for day in (8, 15, 22):
        w.event(eid, at(day, 11), "view", geo=MUNICH)
        w.event(eid, at(day, 14), "view", geo=MUNICH)
    w.event(eid, at(DAY, 10), "view")  # the owner, at the Hamburg office
    w.event(eid, at(DAY, 10, 6), "login", device_id="pc-unknown", geo=MUNICH)
    w.event(eid, at(DAY, 10, 9), "export", 60, device_id="pc-unknown", geo=MUNICH)
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine and "concurrent_sessions" in codes(mine)


def test_a_phone_beside_the_laptop_is_not_alerted() -> None:
    w, ids = history()
    eid = ids[1]
    for day in range(20, DAY + 1):
        w.event(eid, at(day, 10, 2), "view", device_id=f"mb-{eid}",
                geo={"country": "DE", "city": "Hamburg", "lat": 53.56, "lon": 10.0})
    w.event(eid, at(DAY, 10), "view")
    actions, _ = w.run()
    assert "concurrent_sessions" not in codes(alerts_for(actions, eid))
