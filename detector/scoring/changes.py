"""Mass deletes and updates: sabotage, or burying records before leaving
(hundreds deleted within an hour, singly or in batches).  A volume family of
its own: records changed per action over a rolling hour, against a floor no
person's hand edits reach and the employee's own learned hourly peak (a sync
job's steady writes are usual once seen).  Data-out context weighs it: notice
raises it like an export.
"""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.observation import Observation
from detector.scoring.signal import OTHER, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.breadth import CHANGE_ACTIONS
from models.volume import ClosedPeriods

VERB = {"delete": "deleted", "update": "updated"}


class MassChange(BaseSignal):
    """Records deleted / updated in the last hour, each action on its own."""

    codes: ClassVar[tuple[str, ...]] = ("mass_delete", "mass_update")
    observes = assesses = refuses = frozenset({OTHER})

    def _floor(self, action: str) -> float:
        s = self.s
        return float(s.delete_floor_1h if action == "delete" else s.update_floor_1h)

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        if ev.action in CHANGE_ACTIONS:
            obs.changed_1h = emp.breadth.count_change(
                ev.ts, ev.action, max(1, ev.record_count), self._floor(ev.action))

    def assess(self, case: Case) -> None:
        s, ev, obs = self.s, case.obs.ev, case.obs
        if ev.action not in CHANGE_ACTIONS:
            return
        floor = self._floor(ev.action)
        if obs.changed_1h <= floor:
            return
        which = 1 + CHANGE_ACTIONS.index(ev.action)
        # A rolling hour can hold parts of two learned clock hours.
        top = max(floor, 2.0 * case.emp.breadth.peak(which, ev.ts))
        if obs.changed_1h <= top:
            return
        pts = s.change_points + s.points_per_doubling * math.log2(obs.changed_1h / top)
        case.add(Reason(
            f"mass_{ev.action}",
            f"{VERB[ev.action]} {n(obs.changed_1h)} records in the last hour; usual up to "
            f"{n(top)}",
            min(s.change_cap, pts),
            {f"records_{VERB[ev.action]}_1h": round(obs.changed_1h), "usual_max": round(top)},
        ), data_out=True)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        if obs.ev.action in CHANGE_ACTIONS:
            emp.breadth.flag_changes()
