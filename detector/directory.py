"""The employee directory: versioned HR records looked up by event time.

A record applies from its ``updated_at`` on, so the directory keeps every
version of an employee and answers "who was this employee at time t".  That
single rule gives replay its interleaving by time and lets the streaming
service apply records as they arrive, even out of order or dated in the future.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

from detector.errors import InvalidRecord
from detector.wire.employees import EmployeeRecord, parse_employee
from detector.wire.jsonl import iter_lines


class Directory:
    """Every version of every employee, answering "who was this employee at time t".

    Most employees have one version, so those live in a plain dict and a
    lookup is one dict access and one comparison; only employees with
    several versions pay for a bisect.
    """

    __slots__ = ("_leavers", "_many", "_one", "leaving")

    def __init__(self, records: Iterable[EmployeeRecord] = ()) -> None:
        self._one: dict[str, EmployeeRecord] = {}
        # employee_id -> (sorted updated_at values, records in the same order)
        self._many: dict[str, tuple[list[float], list[EmployeeRecord]]] = {}
        # Employees as their records about leaving arrive (a status or last day that
        # may lock the account, and any later version, which may lift it), in order:
        # engines follow this list to schedule offboarding locks.
        self.leaving: list[str] = []
        self._leavers: set[str] = set()
        for record in records:
            self.add(record)

    def add(self, record: EmployeeRecord) -> None:
        """Add a version; one with the same employee and updated_at replaces the earlier one."""
        eid = record.employee_id
        when = record.updated_at
        if record.status == "terminated" or record.last_day is not None or eid in self._leavers:
            self._leavers.add(eid)
            self.leaving.append(eid)
        one = self._one.get(eid)
        if one is not None:
            if one.updated_at == when:
                self._one[eid] = record
                return
            del self._one[eid]
            self._many[eid] = ([one.updated_at], [one])
        many = self._many.get(eid)
        if many is None:
            self._one[eid] = record
            return
        times, records = many
        i = bisect_left(times, when)
        if i < len(times) and times[i] == when:
            records[i] = record
        else:
            times.insert(i, when)
            records.insert(i, record)

    def at(self, employee_id: str, ts: float) -> EmployeeRecord | None:
        """The version in force at ``ts``: the latest with updated_at <= ts."""
        rec = self._one.get(employee_id)
        if rec is not None:
            return rec if rec.updated_at <= ts else None
        many = self._many.get(employee_id)
        if many is None:
            return None
        i = bisect_right(many[0], ts)
        return many[1][i - 1] if i else None

    def latest(self, employee_id: str) -> EmployeeRecord | None:
        """The newest version, even if it is dated in the future."""
        rec = self._one.get(employee_id)
        if rec is not None:
            return rec
        many = self._many.get(employee_id)
        return many[1][-1] if many is not None else None

    def versions(self, employee_id: str) -> tuple[EmployeeRecord, ...]:
        """All versions, oldest first."""
        rec = self._one.get(employee_id)
        if rec is not None:
            return (rec,)
        many = self._many.get(employee_id)
        return tuple(many[1]) if many is not None else ()

    def employee_ids(self) -> Iterator[str]:
        yield from self._one
        yield from self._many

    def __len__(self) -> int:
        return len(self._one) + len(self._many)

    def __contains__(self, employee_id: object) -> bool:
        return employee_id in self._one or employee_id in self._many

    def __iter__(self) -> Iterator[str]:
        return self.employee_ids()


def load_jsonl(
    source: str | os.PathLike[str] | Iterable[tuple[int, bytes]] | Iterable[bytes | str],
    *,
    max_bytes: int = 65536,
) -> tuple[Directory, list[tuple[int, InvalidRecord]]]:
    """A directory from JSON Lines, and the rejected lines as (line number, error).

    ``source`` is a path (``-`` for stdin), numbered lines as from
    :func:`detector.wire.jsonl.iter_lines`, or plain lines (numbered here from 1).
    Blank lines are skipped but keep their number.
    """
    directory = Directory()
    rejects: list[tuple[int, InvalidRecord]] = []
    lines: Iterable[Any]
    lines = iter_lines(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else source
    plain_no = 0
    raw: bytes | str
    for item in lines:
        if isinstance(item, tuple):
            line_no, raw = item
        else:
            plain_no += 1
            line_no, raw = plain_no, item
        if not raw.strip():
            continue
        try:
            directory.add(parse_employee(raw, max_bytes=max_bytes))
        except InvalidRecord as exc:
            rejects.append((line_no, exc))
    return directory, rejects
