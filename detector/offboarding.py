"""The offboarding lock: a leaver's data access is frozen when their last day ends
or HR terminates them, whether or not the account is used again.

The lock is a function of the directory and event time.  An employee is locked
while the version in force says ``terminated``, or gives a last day whose end
(local midnight after it, in the employee's zone) has passed.  The engine
calls :meth:`Offboarding.advance` as its event time moves on (an event, or the
service's idle tick on a quiet partition), so a lock falls due in replay and in
the service alike, with the same ids: each is derived from what caused it (the
employee, the reason code and its moment), never from when it was noticed.

A lock has no expiry; HR reversing the status (a version in force that no
longer says so) lifts it, and so does an analyst's release.  A lock released
by an analyst is not put back for the same cause; a new cause (a new last day
that ends, a new termination record) locks again.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from detector.directory import Directory
from detector.wire.actions import FREEZE, LOCK_SCOPE, RELEASE, Action, Reason, derive_id
from detector.wire.employees import EmployeeRecord
from detector.wire.times import rfc3339

LAST_DAY, TERMINATED = "offboarding_last_day", "offboarding_terminated"
CODES = (LAST_DAY, TERMINATED)
HR_REVERSED = "hr_reversed"


def last_day_end(rec: EmployeeRecord) -> float | None:
    """When the last day ends: local midnight after it, in the employee's zone."""
    if rec.last_day is None:
        return None
    day = rec.last_day + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=rec.tz or UTC).timestamp()


def cause(rec: EmployeeRecord | None, ts: float) -> tuple[str, float] | None:
    """Why the account is locked at ``ts`` (reason code, the moment it began), if it is."""
    if rec is None:
        return None
    if rec.status == "terminated":
        return TERMINATED, rec.updated_at
    end = last_day_end(rec)
    if end is not None and ts >= end:
        return LAST_DAY, max(end, rec.updated_at)
    return None


class Offboarding:
    """Locks and their lifting, for the employees one engine is responsible for.

    ``owns``: whether an employee's events come to this engine (its partition);
    None for all.  State kept in checkpoints: ``locks`` (employee -> the id of
    their last lock and whether it holds) and ``applied`` (the event time up to
    which the directory has been judged).
    """

    def __init__(self, directory: Directory, owns: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.owns = owns
        self.clock = clock
        self.model_version: str | None = None
        self.locks: dict[str, tuple[str, bool]] = {}
        self.applied = float("-inf")
        # (when, employee): moments a version or a last day's end may change a lock.
        self._due: list[tuple[float, str]] = []
        self._read = 0  # how much of the directory's list of leavers is scheduled

    def state(self) -> tuple[dict[str, tuple[str, bool]], float]:
        return self.locks, self.applied

    def load_state(self, state: tuple[dict[str, tuple[str, bool]], float]) -> None:
        self.locks, self.applied = dict(state[0]), state[1]
        self._due.clear()
        self._read = 0  # rescheduled from the directory: moments already judged
        # are judged once more at ``applied``, against the locks restored

    @property
    def next_due(self) -> float:
        """The earliest moment a lock may change (infinity when none may)."""
        self._schedule()
        return self._due[0][0] if self._due else float("inf")

    def _schedule(self) -> None:
        """Take the directory's new leavers' moments; a moment already passed is
        judged at the next advance (a record that came late)."""
        leaving = self.directory.leaving
        while self._read < len(leaving):
            eid = leaving[self._read]
            self._read += 1
            if self.owns is not None and not self.owns(eid):
                continue
            for rec in self.directory.versions(eid):
                for t in (rec.updated_at, last_day_end(rec)):
                    if t is not None:
                        heapq.heappush(self._due, (max(t, self.applied), eid))

    def advance(self, watermark: float) -> list[Action]:
        """Locks and lifts that fall due by ``watermark`` (event time)."""
        self._schedule()
        due, out = self._due, []
        while due and due[0][0] <= watermark:
            t, eid = heapq.heappop(due)
            act = self._judge(eid, t)
            if act is not None:
                out.append(act)
        self.applied = max(self.applied, watermark)
        return out

    def release(self, employee_id: str, reason: str, at: float) -> list[Action]:
        """An analyst lifts a lock; it stays lifted until a new cause."""
        got = self.locks.get(employee_id)
        if got is None or not got[1]:
            return []
        return [self._lift(employee_id, got[0], reason, at, self.directory.at(employee_id, at))]

    def _judge(self, eid: str, t: float) -> Action | None:
        rec = self.directory.at(eid, t)
        why = cause(rec, t)
        got = self.locks.get(eid)
        if why is None:
            if got is not None and got[1]:
                # Only a new version removes a cause: the lift dates from it, however
                # late it was noticed.
                when = rec.updated_at if rec is not None else t
                return self._lift(eid, got[0], HR_REVERSED, when, rec)
            return None
        if got is not None and got[1]:
            return None  # locked already (a termination after the last day ends adds nothing)
        assert rec is not None
        code, since = why
        fid = derive_id("freeze", "offboarding", eid, code, repr(since))
        if got is not None and got[0] == fid:
            return None  # released by an analyst: not again for the same cause
        self.locks[eid] = (fid, True)
        if code == TERMINATED:
            text = f"HR terminated the account on {rfc3339(rec.updated_at)[:10]}"
        else:
            assert rec.last_day is not None
            text = f"the last day {rec.last_day.isoformat()} ended ({rec.tz_name})"
        details: dict[str, object] = {"status": rec.status}
        if rec.last_day is not None:
            details["last_day"] = rec.last_day.isoformat()
        return Action(
            action_id=fid,
            type=FREEZE,
            employee_id=eid,
            event_time=rfc3339(since),
            decided_at=rfc3339(self.clock()),
            severity="low",
            score=0,
            reasons=[Reason(code, text + ": data access locked", 0.0, details)],
            event_ids=[f"directory:{rfc3339(rec.updated_at)}"],
            incident_id=derive_id("inc", fid),
            scope=LOCK_SCOPE,
            peer_group=rec.peer_group,
            employee_status=rec.status,
            summary=f"{eid} ({rec.role or rec.peer_group}): {text}; data access locked "
                    "until HR reverses the status or an analyst releases it",
            model_version=self.model_version,
        )

    def _lift(self, eid: str, fid: str, reason: str, at: float,
              rec: EmployeeRecord | None = None) -> Action:
        self.locks[eid] = (fid, False)
        return Action(
            action_id=derive_id("release", fid),
            type=RELEASE,
            employee_id=eid,
            event_time=rfc3339(at),
            decided_at=rfc3339(self.clock()),
            severity="low",
            score=0,
            reasons=[],
            event_ids=[f"directory:{rfc3339(rec.updated_at)}" if rec is not None else eid],
            incident_id=derive_id("inc", fid),
            scope=LOCK_SCOPE,
            employee_status=rec.status if rec is not None else None,
            summary=f"data access of {eid} restored ({reason.replace('_', ' ')})",
            model_version=self.model_version,
            release_reason=reason,
        )
