"""HR history: background life events and the directory versions that announce them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from detector.simulator.geography import (
    DAY_US,
    NEIGHBOURS,
    TERRITORY_CODES,
    format_instant,
    midnight_us,
)
from detector.simulator.period import Period
from detector.simulator.workforce import Employee, working_hours_record


def plan_background(staff: list[Employee], period: Period, rng: np.random.Generator) -> None:
    """Leaves and laptop swaps for people no scenario has claimed: the noise of a real company."""
    for emp in staff:
        if emp.case is not None or emp.role.name == "integration":
            continue
        if period.days >= 5 and rng.random() < 0.03:
            first = int(rng.integers(1, period.days - 1))
            emp.leaves.append((first, min(period.days - 1, first + int(rng.integers(3, 11)) - 1)))
        if period.days >= 3 and rng.random() < 0.03:
            emp.new_device_day = int(rng.integers(1, period.days))


def _territory_list(emp: Employee, territories: tuple[int, ...]) -> list[str]:
    return ["*"] if emp.all_territories else [TERRITORY_CODES[t] for t in territories]


def _record(emp: Employee, status: str, territories: tuple[int, ...],
            notice: tuple[str, str] | None = None,
            working_hours: dict[str, Any] | None = None) -> dict[str, Any]:
    """A directory record without its ``updated_at``, fields in the contract's order."""
    rec: dict[str, Any] = {"status": status}
    if notice is not None:
        rec["notice_date"], rec["last_day"] = notice
    rec["role"] = emp.role.name
    rec["department"] = emp.role.department
    if emp.peer_group is not None:
        rec["peer_group"] = emp.peer_group
    rec["territories"] = _territory_list(emp, territories)
    rec["timezone"] = emp.tz
    rec["working_hours"] = working_hours or working_hours_record(emp)
    if emp.manager_id is not None:
        rec["manager_id"] = emp.manager_id
    return rec


def _versions(emp: Employee, period: Period,
              rng: np.random.Generator) -> list[tuple[int, dict[str, Any]]]:
    """(effective time, record) for each version of one employee."""
    start_ord = period.ordinals[0]

    def at(day: int, minutes: float) -> int:
        return emp.local_us(start_ord + day, minutes)

    versions: list[tuple[int, dict[str, Any]]] = []
    notice: tuple[str, str] | None = None
    if emp.notice_day is not None and emp.last_day is not None:
        notice = ((period.start + timedelta(days=emp.notice_day)).isoformat(),
                  (period.start + timedelta(days=emp.last_day)).isoformat())
    if emp.hire_day > 0:
        hired = emp.hire_us if emp.hire_us is not None else at(emp.hire_day, 7.5 * 60)
        versions.append((hired, _record(emp, "active", emp.territories)))
    else:
        initial = (midnight_us(start_ord) - int(rng.integers(5, 700)) * DAY_US
                   + int(rng.integers(0, DAY_US)))
        if rng.random() < 0.15 and emp.role.name != "integration":
            older = initial - int(rng.integers(60, 900)) * DAY_US
            if len(emp.territories) == 1 and NEIGHBOURS[emp.territories[0]]:
                moved_from = NEIGHBOURS[emp.territories[0]]
                prior = _record(emp, "active",
                                (moved_from[int(rng.integers(len(moved_from)))],))
            else:
                hours = working_hours_record(emp)
                hours["start"] = "08:00" if hours["start"] != "08:00" else "09:00"
                prior = _record(emp, "active", emp.territories, working_hours=hours)
            versions.append((older, prior))
        if emp.notice_day is not None and emp.notice_day < 0:
            versions.append((initial, _record(emp, "active", emp.territories)))
            noticed = emp.notice_us if emp.notice_us is not None else at(emp.notice_day, 11 * 60)
            versions.append((noticed, _record(emp, "notice", emp.territories, notice)))
        else:
            versions.append((initial, _record(emp, "active", emp.territories)))
    for first, last in emp.leaves:
        versions.append((at(first, 6 * 60), _record(emp, "leave", emp.territories_on(first))))
        if last + 1 < period.days:
            versions.append((at(last + 1, 6 * 60),
                             _record(emp, "active", emp.territories_on(last + 1))))
    if emp.reassign_day is not None:
        moved = emp.reassign_us if emp.reassign_us is not None else at(emp.reassign_day, 7 * 60)
        versions.append((moved, _record(emp, "active", emp.new_territories)))
    if notice is not None and emp.notice_day is not None and emp.notice_day >= 0:
        noticed = emp.notice_us if emp.notice_us is not None else at(emp.notice_day, 11 * 60)
        versions.append((noticed, _record(emp, "notice", emp.territories_on(emp.notice_day),
                                          notice)))
    if emp.terminated_us is not None and emp.last_day is not None and emp.last_day < period.days:
        versions.append((emp.terminated_us,
                         _record(emp, "terminated", emp.territories_on(emp.last_day), notice)))
    return versions


def directory_records(staff: list[Employee], period: Period,
                      rng: np.random.Generator) -> list[dict[str, Any]]:
    """Every version of every employee, in the order HR published them."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for emp in staff:
        for when, rec in _versions(emp, period, rng):
            stamped = {"employee_id": emp.employee_id,
                       "updated_at": format_instant(when - when % 1_000_000), **rec}
            out.append((when, emp.employee_id, stamped))
    out.sort(key=lambda x: (x[0], x[1]))
    return [rec for _, _, rec in out]
