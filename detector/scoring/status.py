"""Account status: any activity on an unknown, terminated or on-leave account,
or after the last day, is critical on its own; notice raises data-out risk."""

from __future__ import annotations

from typing import ClassVar

from detector.scoring.calendar import date_of, local_date
from detector.scoring.signal import DATA_OUT, OTHER, VIEW, BaseSignal, Case
from detector.wire.actions import Reason


class AccountStatus(BaseSignal):
    """What HR says about the account, judged first."""

    codes: ClassVar[tuple[str, ...]] = (
        "unknown_employee", "status_change", "terminated_account", "account_on_leave",
        "after_last_day",
    )

    def assess(self, case: Case) -> None:
        s, ev, rec = self.s, case.obs.ev, case.obs.rec
        if rec is None:
            case.add(Reason(
                "unknown_employee",
                "account not in the employee directory; judged against all employees",
                s.unknown_points,
            ))
            return
        status = rec.status
        recent = ev.ts - rec.updated_at < s.status_grace_seconds
        if status in ("terminated", "leave") and recent:
            case.add(Reason(
                "status_change",
                f"{ev.action} within minutes of the account's change to {status}",
                s.unknown_points,
                {"status": status},
            ))
        elif status == "terminated":
            case.add(Reason(
                "terminated_account",
                f"{ev.action} on the account of an employee terminated "
                f"{date_of(rec.updated_at)}",
                s.terminated_points,
                {"status": "terminated"},
            ))
        elif status == "leave":
            case.add(Reason(
                "account_on_leave",
                f"{ev.action} on the account of an employee on leave since "
                f"{date_of(rec.updated_at)}",
                s.leave_points,
                {"status": "leave"},
            ))
        elif rec.last_day is not None and local_date(case.obs.abs_hour) > rec.last_day.isoformat():
            case.add(Reason(
                "after_last_day",
                f"{ev.action} after the employee's last day {rec.last_day.isoformat()}",
                s.terminated_points,
                {"last_day": rec.last_day.isoformat()},
            ))


class Notice(BaseSignal):
    """Someone under notice: the data-out points found are raised by a share.

    Registered last, since it weighs every data-out reason before it.
    """

    codes: ClassVar[tuple[str, ...]] = ("notice_period",)
    # It weighs data-out points only (mass deletes and look-up bursts count too).
    assesses = frozenset({DATA_OUT, VIEW, OTHER})

    def assess(self, case: Case) -> None:
        s, rec = self.s, case.obs.rec
        if (
            rec is not None
            and rec.status == "notice"
            and case.data_points > 0
            and not any(r.code == "after_last_day" for r in case.reasons)
        ):
            last = f", last day {rec.last_day.isoformat()}" if rec.last_day else ""
            case.add(Reason(
                "notice_period",
                f"employee is under notice{last}: data-out risk raised by "
                f"{round(s.notice_factor * 100)}%",
                s.notice_factor * case.data_points,
                {"status": "notice"},
            ))
