"""A departing employee's ramp is alerted in its first days, from the rise that
notice weighs more; an honest leaver, even a heavy exporter, is not alerted just
for being under notice."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from detector.wire.actions import Action
from tests.worldkit import START, World, alerts_for, at, codes, employee

NOTICE_DAY = 29  # a Tuesday, clear of the month-end
RAMP_FROM = 30


def usual_work(w: World, eid: str, first: int, last: int, median: float, per_day: float) -> None:
    """Views through the working day and, on some days, exports whose sizes vary
    as people's do (log-normal, a spread of 0.8 in log rows)."""
    for day in range(first, last):
        if (START + timedelta(days=day)).weekday() >= 5:
            continue
        for _ in range(10):
            w.event(eid, at(day, 9) + timedelta(minutes=w.rng.uniform(0, 480)), "view")
        exports = int(per_day) + (w.rng.random() < per_day - int(per_day))
        for _ in range(exports):
            rows = max(1, round(math.exp(w.rng.gauss(math.log(median), 0.8))))
            w.event(eid, at(day, 9) + timedelta(minutes=w.rng.uniform(30, 450)), "export", rows)


def staff(w: World, n: int, days: int, median: float, per_day: float) -> list[str]:
    ids = [f"E{200 + i}" for i in range(n)]
    for eid in ids:
        w.add(employee(eid))
        usual_work(w, eid, 0, days, median, per_day)
    return ids


def give_notice(w: World, eid: str) -> None:
    w.add(employee(eid, updated=at(NOTICE_DAY, 11), status="notice",
                   notice_date=at(NOTICE_DAY, 11).date().isoformat(),
                   last_day=at(NOTICE_DAY + 18, 11).date().isoformat()))


def ramp_after_notice(w: World, eid: str, first_rows: float, growth: float) -> list[Action]:
    """From the day after notice, one or two exports a working day, growing by
    ``growth`` a day; the employee's alerts, the first checked to fall within
    the ramp's first three days."""
    ramp = [d for d in range(RAMP_FROM, 45) if (START + timedelta(days=d)).weekday() < 5]
    for i, day in enumerate(ramp):
        for k in range(1 + i % 2):
            w.event(eid, at(day, 14, 10 * k), "export", round(first_rows * growth**i))
    actions, _ = w.run()
    mine = alerts_for(actions, eid)
    assert mine, "the ramp was never alerted"
    first = datetime.fromisoformat(mine[0].event_time)
    assert first < at(ramp[3], 0), f"first alerted {first}, ramp began on day {ramp[0]}"
    return mine


def test_a_departing_ramp_is_alerted_within_its_first_three_days() -> None:
    w = World(21)
    ids = staff(w, n=6, days=48, median=60, per_day=0.6)
    eid = ids[0]
    give_notice(w, eid)
    # Starting at twice the usual size and growing a fifth a day: each alone is ordinary.
    mine = ramp_after_notice(w, eid, 120, 1.2)
    assert codes(mine[:1]) & {"volume_escalation", "export_frequency_rise"}
    assert "notice_period" in codes(mine[:1])


def test_a_heavy_exporter_under_notice_is_not_alerted_for_the_notice() -> None:
    w = World(22)
    ids = staff(w, n=6, days=48, median=400, per_day=3.0)
    give_notice(w, ids[1])
    actions, _ = w.run()
    assert alerts_for(actions, ids[1]) == []


def test_an_ordinary_leaver_is_not_alerted() -> None:
    w = World(23)
    ids = staff(w, n=8, days=48, median=60, per_day=0.6)
    for eid in ids[:4]:
        give_notice(w, eid)
    actions, _ = w.run()
    assert [a for a in actions if a.type == "alert"] == []


def test_a_wide_mix_of_sizes_is_not_summed_as_a_rise() -> None:
    """Someone whose data out mixes few-row downloads with list exports has sizes
    that spread far beyond the capped sd: a stretch of weeks with more of the
    exports is their mix, not an escalation."""
    w = World(24)
    ids = staff(w, n=6, days=56, median=60, per_day=0.6)
    eid = ids[2]
    for day in range(56):
        if (START + timedelta(days=day)).weekday() >= 5:
            continue
        # Two data-out actions a day, each a list export or a few-row download
        # with even odds, for eight weeks.
        for k in range(2):
            big = w.rng.random() < 0.5
            rows = round(math.exp(w.rng.gauss(math.log(300 if big else 3), 0.5)))
            w.event(eid, at(day, 10 + 3 * k), "export" if big else "download", max(1, rows))
    actions, _ = w.run()
    assert alerts_for(actions, eid) == []


def test_a_sparse_exporters_ramp_is_alerted_from_the_sum_since_notice() -> None:
    """Someone who exported on a third of their days exports every day after
    notice, at a few times their usual size: no day and no export stands out,
    and too few days had data out for a rise to be summed; the rows since notice
    against as many of their ordinary days do."""
    w = World(25)
    ids = staff(w, n=6, days=48, median=60, per_day=0.3)
    eid = ids[3]
    give_notice(w, eid)
    mine = ramp_after_notice(w, eid, 150, 1.15)
    assert {"notice_volume", "notice_period"} <= codes(mine[:1])
    reason = next(r for r in mine[0].reasons if r.code == "notice_volume")
    assert reason.details["notice_days"] <= 4  # the day notice was given, then the ramp's


def test_a_month_end_swell_is_not_summed_since_notice() -> None:
    """The whole team exports thousands of rows on the month-end close; for a
    leaver among them those days are the team's, not a ramp of their own."""
    w = World(26)
    ids = staff(w, n=6, days=62, median=60, per_day=0.6)
    leaver = ids[4]
    w.add(employee(leaver, updated=at(45, 11), status="notice",
                   notice_date=at(45, 11).date().isoformat(),
                   last_day=at(61, 11).date().isoformat()))
    month_end = [52, 53, 56]  # 2026-10-29, 10-30 and 11-02: the close and the first day
    for day in month_end:
        for eid in ids:
            w.event(eid, at(day, 15, ids.index(eid)), "export", 3000)
    actions, _ = w.run()
    assert "notice_volume" not in codes(alerts_for(actions, leaver))
