"""Repeated look-ups of one customer: an employee pulling one key account's full
history in a burst (views and searches of the same one to three customers,
dozens of times in half an hour).  Support staff working a case come back to
one customer several times over an hour or two, which stays under the floor.

Customer ids are counted as hashes in a bounded per-employee table
(``models.breadth``); reasons carry counts and tiers only.
"""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.observation import Observation
from detector.scoring.signal import OTHER, VIEW, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.breadth import LOOKUP_HALF_SECONDS
from models.volume import ClosedPeriods

LOOKUP_ACTIONS = frozenset({"view", "search"})


class RepeatedLookups(BaseSignal):
    """Look-ups of the (up to) three most looked-up customers over the last half
    hour, against the floor no ordinary case work reaches and the employee's own
    learned peak."""

    codes: ClassVar[tuple[str, ...]] = ("repeated_lookups",)
    observes = assesses = learns = refuses = frozenset({VIEW, OTHER})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        if ev.action in LOOKUP_ACTIONS and ev.customer_ids:
            obs.lookups, obs.lookup_customers, obs.lookup_high = emp.breadth.count_lookup(
                ev.ts, ev.customer_ids, ev.tiers)

    def assess(self, case: Case) -> None:
        s, obs = self.s, case.obs
        if obs.lookups < s.lookup_min_count:
            return
        usual = case.emp.breadth.peak(0, obs.ev.ts)
        top = max(float(s.lookup_min_count) - 1.0, usual)
        if obs.lookups <= top:
            return
        pts = s.lookup_points + s.points_per_doubling * math.log2(obs.lookups / (top + 1.0))
        k = obs.lookup_customers
        who = "one customer" if k == 1 else f"the same {k} customers"
        if obs.lookup_high:
            pts += s.tier_points
            who += " (high-value)" if k == 1 else " (incl. high-value)"
        minutes = 2 * LOOKUP_HALF_SECONDS // 60
        case.add(Reason(
            "repeated_lookups",
            f"looked up {who} {n(obs.lookups)} times in {minutes} minutes; "
            f"usual up to {n(top)}",
            min(s.lookup_cap, pts),
            {"lookups_30m": round(obs.lookups), "customers": k, "usual_max": round(top),
             "tier": "high" if obs.lookup_high else "other"},
        ), data_out=True)

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        if obs.lookups:
            emp.breadth.learn_lookups(obs.lookups, obs.ev.ts)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        if obs.lookups:
            emp.breadth.flag_lookups(obs.ev.ts)
