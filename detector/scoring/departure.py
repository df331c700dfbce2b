"""A departing employee's ramp: rows out since notice far above what as many of
their ordinary working days move.

Each day of a ramp may look ordinary on its own (two exports of twice the usual
size, on a day like many before), and an escalation needs a week to build over
a spread of sizes.  The sum since notice does not: after one to three days it
stands several spreads above the sum of as many ordinary days, while an honest
leaver's days, working normally, add up to about what they always did.
"""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.calendar import is_month_end
from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods


class DepartureVolume(BaseSignal):
    """Rows out in the notice window against the sum of as many ordinary days."""

    codes: ClassVar[tuple[str, ...]] = ("notice_volume",)
    assesses = refuses = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        rec = obs.rec
        window = emp.notice
        day = obs.abs_hour // 24
        window.touch(day, rec is not None and rec.status == "notice", not is_month_end(day))
        if obs.ev.data_out:
            window.add(obs.ev.record_count)

    def assess(self, case: Case) -> None:
        s, window = self.s, case.emp.notice
        if not window.in_window() or window.learned_days() < s.departure_min_days:
            return
        rows, expected, sd, days = window.sums()
        usual = expected / days
        # A day's rows vary at least as much as their mean: a sum of a few days is
        # judged against that spread when the employee's own was steadier.
        sd = max(sd, usual * math.sqrt(days))
        excess = rows - expected
        if excess < s.departure_min_excess or rows < s.departure_ratio * expected:
            return
        z = excess / max(sd, 1.0)
        if z < s.departure_z:
            return
        case.add(Reason(
            "notice_volume",
            f"under notice: {n(rows)} rows out over {days} working day{'s' * (days > 1)}, "
            f"{rows / max(expected, 1.0):.1f}x what as many of their ordinary days move "
            f"(usual {n(usual)} a day)",
            min(s.departure_cap, s.departure_points + 5.0 * (z - s.departure_z)),
            {"rows_since_notice": round(rows), "notice_days": days,
             "usual_day": round(usual), "z": round(z, 1)},
        ), data_out=True)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        emp.notice.flag()
