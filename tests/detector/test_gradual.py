"""Gradual exfiltration caught early: a chunked burst within minutes of its first
chunk, export frequency rising over weeks at usual sizes; and their benign
look-alikes (a routine of quick exports, a steady heavy exporter) not alerted."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.worldkit import World, alerts_for, at, codes, team, working_days

DAY = 30  # a Tuesday, clear of the month-end


def test_a_chunked_burst_is_alerted_within_five_minutes_of_its_first_chunk() -> None:
    w = World(11)
    ids = team(w, n=6, days=35)
    eid = ids[0]
    first = at(DAY, 10)
    for i in range(30):  # 30 chunks of ~100 rows, 70-110 s apart
        w.event(eid, first + timedelta(seconds=90 * i + (i * 37) % 41 - 20), "export",
                95 + (i * 13) % 20)
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine and "export_burst" in codes(mine[:1])
    when = datetime.fromisoformat(mine[0].event_time)
    assert when - first <= timedelta(minutes=5)
    reason = next(r for r in mine[0].reasons if r.code == "export_burst")
    assert reason.details["actions_10m"] >= 4
    assert reason.details["rows_10m"] >= 150


def test_a_routine_of_quick_exports_is_not_alerted() -> None:
    w = World(12)
    ids = team(w, n=6, days=35)
    eid = ids[1]
    # Every working day at 16:00, five small reports saved a minute apart.
    for day in working_days(0, 35):
        for i in range(5):
            w.event(eid, at(day, 16) + timedelta(seconds=70 * i), "export", 40 + 7 * i)
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_export_frequency_rising_over_weeks_at_usual_sizes_is_alerted() -> None:
    w = World(13)
    ids = team(w, n=6, days=56, exports=(20, 80))
    eid = ids[2]
    # From week three, extra exports of the usual size: one more every few days.
    rising_from = 21
    for day in working_days(rising_from, 56):
        extra = 1 + (day - rising_from) // 3
        for i in range(extra):
            w.event(eid, at(day, 10) + timedelta(minutes=25 * i + 7), "export",
                    20 + (i * 17 + day) % 60)
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine, "the rise was never alerted"
    # The daily volume rise may speak first; the count's own rise speaks too.
    assert "export_frequency_rise" in codes(mine)
    reason = next(r for a in mine for r in a.reasons if r.code == "export_frequency_rise")
    assert reason.details["actions_today"] > 1.5 * float(reason.details["long_term_typical_day"])
    assert reason.details["rising_days"] >= 3
    first = datetime.fromisoformat(mine[0].event_time)
    assert first >= at(rising_from, 0)


def test_a_steady_heavy_exporter_is_not_alerted() -> None:
    w = World(14)
    ids = team(w, n=6, days=56)
    eid = ids[3]
    # Eight to ten exports of usual size every working day, for eight weeks.
    for day in working_days(0, 56):
        for i in range(8 + day % 3):
            w.event(eid, at(day, 9) + timedelta(minutes=40 * i + 11), "export",
                    30 + (i * 11 + day) % 50)
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []
