"""Each insider scenario is alerted and each benign hard case is not, on a
hand-built team with four weeks of ordinary history behind it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from detector.settings import ScoringSettings, Settings
from detector.wire.actions import Action
from tests.worldkit import START, World, alerts_for, at, codes, employee, team

SCENARIO_DAY = 30  # a Tuesday, well clear of the September month-end


def history(seed: int = 1, days: int = 35) -> tuple[World, list[str]]:
    w = World(seed)
    ids = team(w, n=8, days=days)
    return w, ids


def drop_from(w: World, eid: str, day: int) -> None:
    """Remove an employee's scripted ordinary work from ``day`` on."""
    cut = (START + timedelta(days=day)).isoformat()
    w.events = [e for e in w.events if not (e["employee_id"] == eid and e["timestamp"] >= cut)]


def drop_exports_from(w: World, eid: str, day: int) -> None:
    cut = (START + timedelta(days=day)).isoformat()
    w.events = [e for e in w.events if not (e["employee_id"] == eid and e["action"] == "export"
                                            and e["timestamp"] >= cut)]


def only_alerts(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.type == "alert"]


def test_quiet_team_raises_nothing() -> None:
    w, _ = history()
    actions, _ = w.run()
    assert only_alerts(actions) == []


def test_off_hours_bulk_export_alerts_and_freezes() -> None:
    w, ids = history()
    w.event(ids[0], at(SCENARIO_DAY, 2, 14), "export", 4812,
            {"DE-North": 612, "FR-Paris": 2100, "UK-London": 2100})
    actions, _ = w.run()
    mine = [a for a in actions if a.employee_id == ids[0]]
    assert [a.type for a in mine] == ["alert", "freeze", "release"]
    alert, freeze, release = mine
    assert freeze.expires_at == "2026-10-08T00:14:00.000Z"  # 24 h after 02:14 Berlin, Oct 7
    assert release.release_reason == "ttl_expired" and release.incident_id == alert.incident_id
    assert {"off_hours", "volume_action", "out_of_territory"} <= codes(mine)
    assert mine[0].severity in ("high", "critical")
    assert "4,812 rows" in mine[0].summary


def test_out_of_territory_export_in_working_hours() -> None:
    w, ids = history()
    w.event(ids[1], at(SCENARIO_DAY, 11), "export", 400, {"DE-North": 40, "FR-Paris": 360})
    actions, _ = w.run()
    mine = alerts_for(actions, ids[1])
    assert len(mine) == 1 and "out_of_territory" in codes(mine)
    assert "off_hours" not in codes(mine)


def test_a_large_export_stands_out_among_single_file_downloads() -> None:
    w, ids = history()
    eid = ids[2]
    for day in range(0, SCENARIO_DAY):
        if (START + timedelta(days=day)).weekday() < 5:
            for hour in (10, 12, 15):
                w.event(eid, at(day, hour), "download", 1)
    w.event(eid, at(SCENARIO_DAY, 11), "export", 1000)
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    # Downloads of one file do not widen the band that list exports are judged by.
    assert mine and "volume_action" in codes(mine)


def test_chunked_exports_add_up() -> None:
    w, ids = history()
    for i in range(25):
        w.event(ids[2], at(SCENARIO_DAY, 9) + timedelta(minutes=15 * i), "export", 40)
    actions, _ = w.run()
    mine = alerts_for(actions, ids[2])
    assert mine, "chunked exports were not alerted"
    assert codes(mine) & {"chunked_exports", "volume_24h", "volume_1h"}
    # Every chunk on its own is ordinary: the alert comes from the running total.
    assert "volume_action" not in codes(mine)


def test_departing_employee_taking_the_customer_list() -> None:
    w, ids = history()
    eid = ids[3]
    w.add(employee(eid, updated=START + timedelta(days=25), status="notice",
                   notice_date="2026-10-02", last_day="2026-10-16"))
    for day, rows in ((26, 90), (27, 150), (28, 300), (SCENARIO_DAY, 1500)):
        w.event(eid, at(day, 15), "export", rows)
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine and "notice_period" in codes(mine)


def test_terminated_account_use_is_critical_and_frozen_once() -> None:
    w, ids = history()
    eid = ids[4]
    drop_from(w, eid, 25)
    w.add(employee(eid, updated=START + timedelta(days=25), status="terminated"))
    w.event(eid, at(SCENARIO_DAY, 10), "login")
    w.event(eid, at(SCENARIO_DAY, 10, 5), "export", 200)
    w.event(eid, at(SCENARIO_DAY, 10, 9), "view")
    actions, _ = w.run()
    mine = [a for a in actions if a.employee_id == eid]
    # The account's ordinary work stopped at day 25 only in the directory; the
    # first event after it opens one critical incident and the rest join it.
    assert [a.type for a in mine if a.type != "release"][:2] == ["alert", "freeze"]
    assert mine[0].severity == "critical"
    assert "terminated_account" in codes(mine)
    assert len({a.incident_id for a in mine}) == 1


def browse(w: World, eid: str, start: datetime, n: int, every_s: float, tier: str = "low") -> None:
    """``n`` views of different customers, one every ``every_s`` seconds."""
    for i in range(n):
        w.event(eid, start + timedelta(seconds=every_s * i), "view",
                customers=[{"id": f"C-B{i}", "territory": "DE-North", "tier": tier}])


def test_view_harvesting() -> None:
    w, ids = history()
    browse(w, ids[5], at(SCENARIO_DAY, 10), 300, 10, tier="high")
    actions, _ = w.run()
    mine = alerts_for(actions, ids[5])
    assert mine and "view_harvesting" in codes(mine)


def test_fast_view_harvest_is_alerted_on_its_pace() -> None:
    w, ids = history()
    start = at(SCENARIO_DAY, 10)
    browse(w, ids[5], start, 300, 10)
    actions, _ = w.run()
    first = alerts_for(actions, ids[5])[0]
    # Six customers a minute shows in the ten-minute pace well before the
    # hour's total would reach the top of the usual range.
    assert datetime.fromisoformat(first.event_time) - start <= timedelta(minutes=10)
    harvest = next(r for r in first.reasons if r.code == "view_harvesting")
    assert "last 10 minutes" in harvest.text
    assert harvest.details["distinct_customers_10m"] >= 20


def test_a_busy_morning_of_views_is_not_a_harvest() -> None:
    w, ids = history()
    # A customer every 70 seconds for three hours: fast for this team, but a
    # human reading pace, under ten customers in any ten minutes.
    browse(w, ids[5], at(SCENARIO_DAY, 9), 150, 70)
    actions, _ = w.run()
    assert alerts_for(actions, ids[5]) == []


def test_chunked_exports_at_month_end_still_add_up() -> None:
    w, ids = history()
    day = 23  # Wednesday 30 September, the last business day of the month
    assert (START + timedelta(days=day)).day == 30
    for i in range(25):
        w.event(ids[2], at(day, 9) + timedelta(minutes=15 * i), "export", 40)
    actions, _ = w.run()
    mine = alerts_for(actions, ids[2])
    # The month-end allowance widens what counts as a usual volume, not how
    # many separate exports count as usual.
    assert mine and "chunked_exports" in codes(mine)


def test_impossible_travel() -> None:
    w, ids = history()
    w.event(ids[6], at(SCENARIO_DAY, 10, 40), "view",
            geo={"country": "SG", "city": "Singapore", "lat": 1.35, "lon": 103.82})
    actions, _ = w.run()
    mine = alerts_for(actions, ids[6])
    assert mine and "impossible_travel" in codes(mine)


def test_slow_escalation_is_caught_before_five_times() -> None:
    w = World(3)
    ids = team(w, n=6, days=90, exports=(40, 60))
    eid = ids[0]
    # Replace the first rep's exports from day 21 on with a rise of 4% a day.
    drop_exports_from(w, eid, 21)
    level = 50.0
    volumes: dict[str, float] = {}
    for day in range(21, 90):
        level *= 1.04
        if (START + timedelta(days=day)).weekday() < 5:
            volumes[w.event(eid, at(day, 14), "export", round(level))] = level
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine, "a slow escalation to ~15x was never alerted"
    first = mine[0]
    assert volumes[first.event_ids[0]] < 5 * 50
    assert "volume_escalation" in codes([first]) or "volume_action" in codes([first])


def _escalating_with_downloads(settings: Settings | None = None) -> tuple[list[Action], str,
                                                                           dict[str, float]]:
    """A rep whose daily exports rise 12% a working day, each day's export
    followed by single-file downloads, which are ordinary and tiny."""
    w = World(4)
    ids = team(w, n=6, days=70, exports=(40, 60))
    eid = ids[0]
    drop_exports_from(w, eid, 21)
    for day in range(0, 70):
        if (START + timedelta(days=day)).weekday() < 5:
            for hour in (11, 16):
                w.event(eid, at(day, hour), "download", 1)
    level = 50.0
    volumes: dict[str, float] = {}
    for day in range(21, 70):
        if (START + timedelta(days=day)).weekday() < 5:
            level *= 1.12
            volumes[w.event(eid, at(day, 14), "export", round(level))] = level
    actions, _ = w.run(settings)
    return actions, eid, volumes


def test_slow_escalation_between_small_downloads_is_caught_on_daily_totals() -> None:
    actions, eid, volumes = _escalating_with_downloads()
    first = alerts_for(actions, eid)[0]
    assert volumes[first.event_ids[0]] < 8 * 50
    escalation = next(r for r in first.reasons if r.code == "volume_escalation")
    assert "daily data-out volume rising steadily" in escalation.text
    # Without the daily sum, the downloads keep draining the per-export one.
    no_daily = Settings(scoring=ScoringSettings(escalation_min_active_days=10**6))
    late, eid, volumes = _escalating_with_downloads(no_daily)
    mine = alerts_for(late, eid)
    assert not mine or volumes.get(mine[0].event_ids[0], 1e9) > volumes[first.event_ids[0]]


# -- benign hard cases --------------------------------------------------------


def test_night_shift_exports_at_night_are_normal() -> None:
    w, _ = history()
    w.add(employee("N1", role="support_agent", start="22:00", end="06:00",
                   tz="Asia/Singapore", territories=["APAC-SG"]))
    w.workdays("N1", 0, 35, tz="Asia/Singapore", hours=(22, 6), territory="APAC-SG")
    actions, _ = w.run()
    assert alerts_for(actions, "N1") == []


def test_marketing_weekly_bulk_export() -> None:
    w, _ = history()
    w.add(employee("M1", role="marketing", territories=["*"]))
    w.workdays("M1", 0, 35, exports=(10, 40))
    for week in range(5):
        rows = 3000 + 150 * week
        w.event("M1", at(1 + 7 * week, 10), "export", rows,
                {"DE-North": rows // 3, "FR-Paris": rows // 3, "UK-London": rows - 2 * (rows // 3)})
    actions, _ = w.run()
    assert alerts_for(actions, "M1") == []


def test_new_hire_first_weeks() -> None:
    w, _ = history()
    w.add(employee("H1", updated=START + timedelta(days=20)))
    w.workdays("H1", 21, 35)
    actions, _ = w.run()
    assert alerts_for(actions, "H1") == []


def test_territory_reassignment() -> None:
    w, ids = history()
    eid = ids[7]
    drop_from(w, eid, 26)
    w.add(employee(eid, updated=START + timedelta(days=25, hours=20), territories=["FR-Paris"]))
    w.workdays(eid, 26, 35, territory="FR-Paris", exports=(60, 120))
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_business_travel_at_plausible_speed() -> None:
    w, ids = history()
    eid = ids[0]
    drop_from(w, eid, 29)
    for day in (29, 30, 31):
        for h in (10, 12, 14):
            w.event(eid, at(day, h, tz="America/New_York"), "view",
                    geo={"country": "US", "city": "New York", "lat": 40.71, "lon": -74.0})
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_leaver_behaving_normally() -> None:
    w, ids = history()
    eid = ids[2]
    w.add(employee(eid, updated=START + timedelta(days=20), status="notice",
                   notice_date="2026-09-27", last_day="2026-10-30"))
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


@pytest.mark.parametrize("hour", [2, 23])
def test_one_odd_night_is_not_learned_as_normal(hour: int) -> None:
    w, ids = history(days=42)
    eid = ids[1]
    w.event(eid, at(29, hour, 5), "export", 60)  # one small late export, not alerted
    w.event(eid, at(36, hour, 10), "export", 3000)  # a week later, the real one
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert len(mine) == 1 and "off_hours" in codes(mine)
    assert mine[0].event_ids[0] != ""


def test_directory_dated_after_the_activity_is_used_provisionally() -> None:
    """An HR export dated after the events still gives hours and territories,
    but never applies a status early."""
    w, ids = history()
    late = START + timedelta(days=60)
    w.records = [r for r in w.records if r["employee_id"] != ids[0]]
    w.add(employee(ids[0], updated=late))
    w.add(employee(ids[1], updated=late, status="terminated"))
    w.records = [r for r in w.records
                 if not (r["employee_id"] == ids[1] and r["status"] == "active")]
    w.event(ids[0], at(SCENARIO_DAY, 2, 14), "export", 4812,
            {"DE-North": 612, "FR-Paris": 2100, "UK-London": 2100})
    actions, engine = w.run()
    assert engine.counters.unknown_employees == 0
    mine = alerts_for(actions, ids[0])
    assert mine and {"off_hours", "out_of_territory"} <= codes(mine)
    assert "unknown_employee" not in codes(mine)
    # The terminated record only takes effect from its own date.
    assert alerts_for(actions, ids[1]) == []
