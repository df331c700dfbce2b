"""Taking one alert apart, on a hand-built team with one off-hours bulk export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from detector.analysis import investigate
from detector.directory import Directory
from detector.settings import Settings
from detector.wire.employees import parse_employee
from detector.wire.events import Event, parse_event
from tests.worldkit import World, at, team

DAY = 30  # a Wednesday, after four weeks of ordinary work


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    w = World(seed=5)
    ids = team(w, n=6, days=35)
    eid = ids[0]
    w.event(eid, at(DAY, 2, 14), "export", 4812, {"DE-North": 612, "FR-Paris": 4200})
    actions, _ = w.run()
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    # The order World.run feeds the engine in.
    ordered = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    events: list[Event] = [parse_event(orjson.dumps(e)) for e in ordered]
    return {"eid": eid, "ids": ids, "actions": [a.to_dict() for a in actions],
            "events": events, "directory": directory, "world": w}


def test_pick_alert_by_default_by_action_and_by_incident(case: dict[str, Any]) -> None:
    actions = case["actions"]
    alert = investigate.pick_alert(actions)
    assert alert["type"] == "alert" and alert["employee_id"] == case["eid"]
    assert alert["score"] == max(a["score"] for a in actions if a["type"] == "alert")
    assert investigate.pick_alert(actions, alert["action_id"]) is alert
    assert investigate.pick_alert(actions, alert["incident_id"]) is alert
    with pytest.raises(LookupError, match="nope"):
        investigate.pick_alert(actions, "nope")
    with pytest.raises(LookupError):
        investigate.pick_alert([a for a in actions if a["type"] != "alert"])


def test_ties_go_to_the_earliest_alert() -> None:
    def alert(aid: str, when: str, score: int) -> dict[str, Any]:
        return {"type": "alert", "action_id": aid, "incident_id": "inc-1",
                "event_time": when, "score": score}

    actions = [alert("late", "2026-10-02T10:00:00Z", 80),
               alert("early", "2026-10-01T10:00:00Z", 80),
               alert("low", "2026-09-30T10:00:00Z", 50),
               {"type": "freeze", "action_id": "f", "incident_id": "inc-1",
                "event_time": "2026-09-29T10:00:00Z", "score": 99}]
    assert investigate.pick_alert(actions)["action_id"] == "early"
    assert investigate.pick_alert(actions, "inc-1")["action_id"] == "early"
    assert [a["action_id"] for a in investigate.incident_actions(actions, "inc-1")] == [
        "f", "low", "early", "late"]


def test_timeline_around_the_alert(case: dict[str, Any]) -> None:
    alert = investigate.pick_alert(case["actions"])
    event = investigate.find_event(case["events"], alert["event_ids"][0])
    assert event.record_count == 4812
    tl = investigate.timeline(case["events"], case["actions"], case["eid"], event.ts,
                              hours_before=48, hours_after=30)
    assert tl.employee_id == case["eid"]
    assert tl.start == event.ts - 48 * 3600 and tl.end == event.ts + 30 * 3600
    assert len(tl.ts) == len(tl.actions) == len(tl.rows) == len(tl.data_out)
    assert (tl.ts >= tl.start).all() and (tl.ts <= tl.end).all() and (tl.ts[:-1] <= tl.ts[1:]).all()
    mine = [e for e in case["events"]
            if e.employee_id == case["eid"] and tl.start <= e.ts <= tl.end]
    assert len(tl.ts) == len(mine) > 1
    assert 4812 in tl.rows[tl.data_out].tolist()
    assert tl.alerts == [(event.ts, alert["score"], alert["severity"])]
    assert tl.freezes == [event.ts]  # the score is over the freeze threshold
    assert tl.releases == [event.ts + 86400]  # the freeze's TTL, in event time


def test_judged_against_the_baseline_just_before(case: dict[str, Any]) -> None:
    alert = investigate.pick_alert(case["actions"])
    event = investigate.find_event(case["events"], alert["event_ids"][0])
    engine = investigate.engine_before(Settings(), case["directory"], case["events"],
                                       event.event_id)
    judged = investigate.judged_against(engine, event)
    earlier_exports = sum(1 for e in case["events"]
                          if e.employee_id == case["eid"] and e.data_out and e.ts < event.ts)
    assert judged.own.observations == earlier_exports > 20  # nothing earlier was refused
    assert judged.how == 2 * 24 + 2  # Wednesday 02:14, Berlin
    assert judged.rows == 4812 and judged.data_out
    assert judged.peer_group == "sales_rep"
    assert judged.own_hours.shape == judged.peer_hours.shape == (7, 24)
    assert judged.own_hours[2, 2] == 0 and judged.own_hours[:5, 9:17].sum() > 0
    assert investigate.share_of_hours(judged.own_hours, judged.how) == 0.0
    assert investigate.share_of_hours(judged.own_hours, 2 * 24 + 11) > 0.0
    own = judged.own
    assert own.typical_rows is not None and own.usual_max_rows is not None
    assert 20 <= own.typical_rows < own.usual_max_rows < 4812
    assert judged.peer.observations > judged.own.observations
    assert 25 <= judged.history_days <= 31
    with pytest.raises(LookupError):
        investigate.engine_before(Settings(), case["directory"], case["events"], "ev-none")


def test_judged_for_someone_without_history(case: dict[str, Any]) -> None:
    engine = investigate.engine_before(Settings(), case["directory"], case["events"],
                                       case["events"][0].event_id)
    judged = investigate.judged_against(engine, case["events"][0])
    assert judged.own.observations == 0 and judged.own.typical_rows is None
    assert judged.own_hours.sum() == 0 and judged.history_days == 0.0


def test_contributions_add_up_to_the_reasons(case: dict[str, Any]) -> None:
    alert = investigate.pick_alert(case["actions"])
    parts = investigate.contributions(alert)
    points = [p for _, p in parts]
    assert points == sorted(points, reverse=True)
    assert sum(points) == pytest.approx(sum(r["points"] for r in alert["reasons"]))
    assert {"off_hours", "volume_action", "out_of_territory"} <= {c for c, _ in parts}
    assert min(100, round(sum(points))) == alert["score"]
