"""How each role and peer group uses the CRM: the figures behind the exploration notebook.

A threshold only means something next to what a job usually does, so analysts
look at the population before tuning.  Every figure is computed with the
directory record in force at each event (its timezone, role, peer group and
territories), as the detector itself reads them.  The figures are counts,
territories and hours; no customer id reaches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from detector.directory import Directory
from detector.errors import InvalidRecord
from detector.features import local_clock
from detector.wire.events import Event, parse_event

GroupBy = Literal["role", "peer_group"]
# Role of an employee the directory does not know, and of a record without a role.
UNKNOWN = "unknown"
UNASSIGNED = "unassigned"


def load_events(
    lines: Iterable[tuple[int, bytes]], max_bytes: int = 65536
) -> tuple[list[Event], int]:
    """Valid events in input order, and how many lines were rejected.

    Rejects are only counted: the replay reports them in detail, and here a
    malformed line must not stop a look at the rest.
    """
    events: list[Event] = []
    rejects = 0
    for _, raw in lines:
        try:
            events.append(parse_event(raw, max_bytes=max_bytes))
        except InvalidRecord:
            rejects += 1
    return events, rejects


@dataclass(frozen=True, slots=True)
class Columns:
    """Events as parallel arrays, with who the employee was when each happened.

    Group columns hold indexes into the matching name tuple.  Territory rows
    come from each event's territory counts (views count their customers), set
    against the employee's own territories: ``rows_unassigned`` is what cannot
    be placed because the directory names no territories for them.
    """

    employees: tuple[str, ...]
    emp: np.ndarray
    roles: tuple[str, ...]
    role: np.ndarray
    peer_groups: tuple[str, ...]
    peer_group: np.ndarray
    ts: np.ndarray  # seconds since the epoch, UTC
    local_day: np.ndarray  # days since 1970-01-01 in the employee's local time
    how: np.ndarray  # local hour of the week, Monday 00:00 = 0
    data_out: np.ndarray
    rows: np.ndarray  # record_count
    rows_inside: np.ndarray
    rows_outside: np.ndarray
    rows_unassigned: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def groups(self, by: GroupBy) -> tuple[tuple[str, ...], np.ndarray]:
        """Names and per-event indexes of roles or of peer groups."""
        if by == "role":
            return self.roles, self.role
        return self.peer_groups, self.peer_group

    def members(self, by: GroupBy, name: str) -> np.ndarray:
        """Mask of the events made while in group ``name`` (all False if unknown)."""
        names, index = self.groups(by)
        if name not in names:
            return np.zeros(len(self), dtype=bool)
        return index == names.index(name)  # type: ignore[no-any-return]


def _code(table: dict[str, int], name: str) -> int:
    code = table.get(name)
    if code is None:
        code = table[name] = len(table)
    return code


def columns(events: Iterable[Event], directory: Directory) -> Columns:
    """Lay the events out as columns, each read with the directory of its moment."""
    emp_codes: dict[str, int] = {}
    role_codes: dict[str, int] = {}
    group_codes: dict[str, int] = {}
    cols: list[list[float]] = [[] for _ in range(11)]
    (c_emp, c_role, c_group, c_ts, c_day, c_how, c_out, c_rows, c_in, c_outside,
     c_unassigned) = cols
    for ev in events:
        rec = directory.at(ev.employee_id, ev.ts)
        abs_hour, how, _ = local_clock(rec.tz if rec is not None else None, ev.ts)
        inside = outside = unassigned = 0
        if ev.territories:
            total = sum(ev.territories.values())
            if rec is None or (rec.territories is None and not rec.all_territories):
                unassigned = total
            elif rec.all_territories:
                inside = total
            else:
                own = rec.territories or frozenset()
                inside = sum(n for t, n in ev.territories.items() if t in own)
                outside = total - inside
        c_emp.append(_code(emp_codes, ev.employee_id))
        c_role.append(_code(role_codes, UNKNOWN if rec is None else rec.role or UNASSIGNED))
        c_group.append(_code(group_codes, UNKNOWN if rec is None else rec.peer_group))
        c_ts.append(ev.ts)
        c_day.append(abs_hour // 24)
        c_how.append(how)
        c_out.append(ev.data_out)
        c_rows.append(ev.record_count)
        c_in.append(inside)
        c_outside.append(outside)
        c_unassigned.append(unassigned)

    def ints(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return Columns(
        employees=tuple(emp_codes), emp=ints(c_emp),
        roles=tuple(role_codes), role=ints(c_role),
        peer_groups=tuple(group_codes), peer_group=ints(c_group),
        ts=np.array(c_ts, dtype=np.float64), local_day=ints(c_day), how=ints(c_how),
        data_out=np.array(c_out, dtype=bool), rows=ints(c_rows),
        rows_inside=ints(c_in), rows_outside=ints(c_outside), rows_unassigned=ints(c_unassigned),
    )


@dataclass(frozen=True, slots=True)
class GroupActivity:
    """One group's daily rhythm: one value per employee-day with any activity."""

    employees: int
    events_per_day: np.ndarray
    rows_out_per_day: np.ndarray
    events: int
    data_out_events: int

    @property
    def employee_days(self) -> int:
        return len(self.events_per_day)

    @property
    def data_out_share(self) -> float:
        """Share of the group's events that moved data out of the CRM."""
        return self.data_out_events / self.events if self.events else 0.0


def activity(cols: Columns, by: GroupBy = "role") -> dict[str, GroupActivity]:
    """Events and rows out per employee-day (local days), per role or peer group.

    An employee-day belongs to the group the employee was in at each event, so
    a move between groups mid-day splits that day between the two.
    """
    names, index = cols.groups(by)
    out: dict[str, GroupActivity] = {}
    for code, name in enumerate(names):
        mask = index == code
        emp, day = cols.emp[mask], cols.local_day[mask]
        key = emp * (int(day.max()) - int(day.min()) + 1) + (day - day.min())
        _, inv = np.unique(key, return_inverse=True)
        rows_out = np.where(cols.data_out[mask], cols.rows[mask], 0)
        out[name] = GroupActivity(
            employees=len(np.unique(emp)),
            events_per_day=np.bincount(inv),
            rows_out_per_day=np.bincount(inv, weights=rows_out).astype(np.int64),
            events=int(mask.sum()),
            data_out_events=int(cols.data_out[mask].sum()),
        )
    return dict(sorted(out.items()))


def hour_of_week(cols: Columns, mask: np.ndarray | None = None) -> np.ndarray:
    """Events per local weekday (rows, Monday first) and hour (columns): a 7 x 24 grid.

    Local time is the employee's own, so a night shift in Sydney and one in
    Chicago land in the same cells.
    """
    how = cols.how if mask is None else cols.how[mask]
    return np.bincount(how, minlength=168).reshape(7, 24)


def export_sizes(cols: Columns, by: GroupBy = "role") -> dict[str, np.ndarray]:
    """Rows moved by each data-out action that moved any, per group (for log-scale plots)."""
    names, index = cols.groups(by)
    moved = cols.data_out & (cols.rows > 0)
    out = {name: cols.rows[moved & (index == code)] for code, name in enumerate(names)}
    return {name: rows for name, rows in sorted(out.items()) if len(rows)}


def territory_mix(
    cols: Columns, by: GroupBy = "role", data_out_only: bool = False
) -> dict[str, dict[str, float]]:
    """Per group, the shares of rows inside, outside and not placeable in own territories.

    Each entry holds ``rows`` (the total placed or not) and the shares
    ``inside``, ``outside`` and ``unassigned``, which add up to 1 when there
    are rows.  Groups whose events carry no territory counts are left out.
    """
    names, index = cols.groups(by)
    out: dict[str, dict[str, float]] = {}
    for code, name in enumerate(names):
        mask = index == code
        if data_out_only:
            mask &= cols.data_out
        inside = int(cols.rows_inside[mask].sum())
        outside = int(cols.rows_outside[mask].sum())
        unassigned = int(cols.rows_unassigned[mask].sum())
        total = inside + outside + unassigned
        if total:
            out[name] = {"rows": float(total), "inside": inside / total,
                         "outside": outside / total, "unassigned": unassigned / total}
    return dict(sorted(out.items()))


__all__ = [
    "Columns",
    "GroupActivity",
    "GroupBy",
    "activity",
    "columns",
    "export_sizes",
    "hour_of_week",
    "load_events",
    "territory_mix",
]
