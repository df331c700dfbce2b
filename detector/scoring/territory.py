"""Territory: rows outside the employee's territories, beyond their usual share."""

from __future__ import annotations

import math
from typing import ClassVar

from detector.features import outside_share
from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, BaseSignal, Case, n
from detector.wire.actions import Reason
from detector.wire.employees import EmployeeRecord
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods


def own_territories(
    rec: EmployeeRecord | None, emp: EmployeeBaseline
) -> frozenset[str] | list[str] | None:
    """The directory's territories, else the ones the employee usually works in
    (None: everything is theirs, or nothing is known yet)."""
    if rec is not None:
        if rec.all_territories:
            return None
        if rec.territories:
            return rec.territories
    usual = emp.usual_territories()
    return usual if usual and emp.stat("rows").n >= 5 else None


class Territory(BaseSignal):
    """Measured from the usual share (at least 10%): an employee who often covers a
    neighbour's accounts has less room to surprise."""

    codes: ClassVar[tuple[str, ...]] = ("out_of_territory",)
    observes = assesses = learns = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        if not obs.ev.data_out:
            return
        own = own_territories(obs.rec, emp)
        got = outside_share(obs.ev.territories, own)
        if got is not None:
            obs.oot_share, obs.oot_top = got
            obs.own_territories = own

    def assess(self, case: Case) -> None:
        s, obs, emp = self.s, case.obs, case.emp
        rows = obs.rows
        if not obs.ev.data_out or obs.oot_share is None or rows < s.min_rows:
            return
        usual_share = emp.usual_outside_share()
        base = max(usual_share, 0.1)
        excess_share = obs.oot_share - base
        if excess_share <= 0:
            return
        outside_rows = obs.oot_share * rows
        size = min(1.0, math.log1p(outside_rows) / math.log1p(2 * s.min_rows))
        pts = s.territory_points * excess_share / (1 - base) * size
        own = obs.own_territories
        own_txt = ", ".join(sorted(own)[:3]) if own else "own territories"
        case.add(Reason(
            "out_of_territory",
            f"{round(obs.oot_share * 100)}% of {n(rows)} rows outside {own_txt} "
            f"(usually {round(usual_share * 100)}%)",
            pts,
            {
                "share_outside": round(obs.oot_share, 3),
                "usual_share_outside": round(usual_share, 3),
                "outside_territories": obs.oot_top or [],
            },
        ), data_out=True)
        case.territory_points = pts

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        ev = obs.ev
        if ev.territories:
            emp.learn_territories(ev.territories)
        if obs.oot_share is not None:
            emp.learn_outside_share(obs.oot_share)
