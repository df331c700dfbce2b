"""Chunked bursts: a few dozen exports of about a hundred rows, a minute or two
apart.  Each chunk is usual in size and the hour's rows build slowly, but the
pace is not: more separate data-out actions in ten minutes than work by hand
brings, against the employee's own largest learned burst (learned as each
burst ends, unless it was alerted, from the first day on; judged once the
employee has their own history).  Caught at the
fourth chunk or so, within minutes of the first, before most rows have left.
"""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods


class Burst(BaseSignal):
    """Data-out actions over the last ten minutes against the floor and the
    employee's learned usual burst."""

    codes: ClassVar[tuple[str, ...]] = ("export_burst",)
    observes = assesses = refuses = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        obs.burst_actions, obs.burst_rows = emp.pace.count(
            ev.ts, ev.record_count, self.s.burst_min_actions - 1.0)

    def assess(self, case: Case) -> None:
        s, obs = self.s, case.obs
        count = obs.burst_actions
        if count < s.burst_min_actions or obs.burst_rows < s.burst_min_rows:
            return
        emp = case.emp
        # Until the employee's own history is long enough, bursts are learned,
        # never judged: a routine of quick exports is theirs before it counts.
        if emp.stat("rows").n < s.own_warmup or emp.seen_days(obs.ev.ts) < s.min_history_days:
            return
        # Half again the largest usual burst: one report more than usual is not a
        # list paged through in chunks.
        usual = emp.pace.usual(obs.ev.ts)
        bar = max(float(s.burst_min_actions), 1.5 * usual)
        if count < bar:
            return
        top = bar - 1.0 if usual < bar - 1.0 else usual
        pts = s.burst_points + s.points_per_doubling * math.log2(count / bar)
        case.add(Reason(
            "export_burst",
            f"{n(count)} separate data-out actions in 10 minutes ({n(obs.burst_rows)} rows); "
            f"usual up to {n(top)}",
            min(s.burst_cap, pts),
            {"actions_10m": round(count), "rows_10m": round(obs.burst_rows),
             "usual_max": round(top)},
        ), data_out=True)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        emp.pace.flag()
