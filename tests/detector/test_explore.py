"""Exploration aggregates on a hand-built world whose every figure is known in advance."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest

from detector.analysis import explore
from detector.directory import Directory
from detector.wire.employees import parse_employee
from tests.worldkit import START, World, at, employee


def _world() -> tuple[World, Directory]:
    w = World(seed=3)
    w.add(employee("E100", role="sales_rep", territories=["DE-North"]))
    w.add(employee("E200", role="analyst", territories=["*"], tz="Australia/Sydney"))
    unplaced = employee("E300", role="marketing", peer_group="growth")
    del unplaced["territories"]
    w.add(unplaced)
    # E400 moves from sales to account management on day 2.
    w.add(employee("E400", role="sales_rep"))
    w.add(employee("E400", role="account_manager", updated=START + timedelta(days=2)))

    w.event("E100", at(0, 9, 30), "view")  # Monday, Berlin
    w.event("E100", at(0, 10), "export", 120, {"DE-North": 90, "FR-Paris": 30})
    w.event("E100", at(1, 23, 30), "export", 40)  # Tuesday 23:30 local, 21:30 UTC
    # Monday 08:00 in Sydney is still Sunday in UTC.
    w.event("E200", at(0, 8, tz="Australia/Sydney"), "export", 5000, {"US-East": 5000})
    w.event("E300", at(0, 11), "export", 10, {"DE-North": 10})
    w.event("E400", at(1, 12), "search")
    w.event("E400", at(3, 12), "search")
    w.event("E999", at(0, 12), "view")  # not in the directory
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    return w, directory


@pytest.fixture(scope="module")
def cols() -> explore.Columns:
    w, directory = _world()
    events, rejects = explore.load_events(
        (i, orjson.dumps(ev)) for i, ev in enumerate(w.events, 1))
    assert rejects == 0
    return explore.columns(events, directory)


def test_load_events_counts_rejects_and_keeps_order() -> None:
    w, _ = _world()
    lines = [orjson.dumps(ev) for ev in w.events]
    lines.insert(2, b'{"event_id": "broken"}')
    events, rejects = explore.load_events(enumerate(lines, 1))
    assert rejects == 1
    assert [e.event_id for e in events] == [ev["event_id"] for ev in w.events]


def test_columns_read_who_the_employee_was_at_each_event(cols: explore.Columns) -> None:
    assert len(cols) == 8
    role = [cols.roles[i] for i in cols.role]
    assert role == ["sales_rep"] * 3 + ["analyst", "marketing", "sales_rep", "account_manager",
                                        explore.UNKNOWN]
    assert cols.peer_groups[cols.peer_group[4]] == "growth"


def test_hours_and_days_are_local(cols: explore.Columns) -> None:
    reps = explore.hour_of_week(cols, cols.members("role", "sales_rep"))
    assert reps.shape == (7, 24)
    assert reps[0, 9] == reps[0, 10] == reps[1, 23] == reps[1, 12] == 1
    assert reps.sum() == 4
    everyone = explore.hour_of_week(cols)
    assert everyone.sum() == 8
    assert everyone[0, 8] == 1  # the Sydney export: Monday locally
    assert not cols.members("role", "nobody").any()


def test_activity_per_employee_day(cols: explore.Columns) -> None:
    by_role = explore.activity(cols, "role")
    assert list(by_role) == sorted(by_role)
    rep = by_role["sales_rep"]
    # E100 on Monday (2 events) and Tuesday (1); E400 on Tuesday before the move (1).
    assert rep.employees == 2 and rep.employee_days == 3
    assert sorted(rep.events_per_day.tolist()) == [1, 1, 2]
    assert sorted(rep.rows_out_per_day.tolist()) == [0, 40, 120]
    assert rep.data_out_share == pytest.approx(2 / 4)
    assert by_role["account_manager"].employee_days == 1
    assert by_role["account_manager"].data_out_share == 0.0
    assert explore.activity(cols, "peer_group")["growth"].events == 1


def test_export_sizes_by_group(cols: explore.Columns) -> None:
    sizes = explore.export_sizes(cols)
    assert set(sizes) == {"sales_rep", "analyst", "marketing"}
    assert sorted(sizes["sales_rep"].tolist()) == [40, 120]
    np.testing.assert_array_equal(sizes["analyst"], [5000])
    assert set(explore.export_sizes(cols, "peer_group")) == {"sales_rep", "analyst", "growth"}


def test_territory_mix(cols: explore.Columns) -> None:
    mix = explore.territory_mix(cols)
    rep = mix["sales_rep"]
    # One viewed customer and 130 exported rows at home, 30 exported rows in FR-Paris.
    assert rep["rows"] == 161
    assert rep["outside"] == pytest.approx(30 / 161)
    assert rep["inside"] + rep["outside"] + rep["unassigned"] == pytest.approx(1.0)
    assert mix["analyst"]["inside"] == 1.0  # all territories
    assert mix["marketing"]["unassigned"] == 1.0  # the directory names none
    assert mix[explore.UNKNOWN]["unassigned"] == 1.0
    assert "account_manager" not in mix  # searches carry no territories
    out_only = explore.territory_mix(cols, data_out_only=True)
    assert out_only["sales_rep"]["rows"] == 160
    assert out_only["sales_rep"]["outside"] == pytest.approx(30 / 160)
    assert explore.UNKNOWN not in out_only
