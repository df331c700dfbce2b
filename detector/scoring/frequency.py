"""Export frequency rising over weeks at usual sizes: no export is large and no day
is far above the band, but the number of data-out actions a day climbs steadily
against a slow anchor of the employee's own days.  Summed per finished day like
the daily volume rise; under notice the bounds and the allowance are lower, as for
escalation.
"""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.escalation import allowance, bounds, points
from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, BaseSignal, Case
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods


class FrequencyRise(BaseSignal):
    """The rise of daily data-out counts, with today's count so far as its last step."""

    codes: ClassVar[tuple[str, ...]] = ("export_frequency_rise",)
    observes = assesses = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        if closed is not None and closed.day_actions is not None:
            emp.pace.close_day(closed.day_actions,
                               allowance(self.s, obs.rec, self.s.frequency_allowance))

    def assess(self, case: Case) -> None:
        s, emp, obs = self.s, case.emp, case.obs
        if case.escalated:
            return
        pace = emp.pace
        today = float(emp.day_actions)
        step = pace.day_step(today, allowance(s, obs.rec, s.frequency_allowance))
        if step <= 0:
            return
        rise = pace.rise + step
        days = pace.rise_days + 1
        limit, min_days = bounds(s, obs.rec, s.frequency_threshold, s.frequency_rising_days)
        if rise < limit or days < min_days:
            return
        usual = math.expm1(pace.anchor)
        case.add(Reason(
            "export_frequency_rise",
            f"data-out actions a day rising steadily: {round(today)} today, "
            f"{today / max(usual, 1.0):.1f}x the long-term typical {usual:.1f}, "
            f"rising over {days} days",
            points(s, rise, limit),
            {"actions_today": round(today), "long_term_typical_day": round(usual, 1),
             "rising_days": days, "rise": round(rise, 1)},
        ), data_out=True)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        emp.pace.reset_rise()  # reported (or the day is alerted): count afresh
