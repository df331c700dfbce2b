"""View harvesting: many distinct customers viewed this hour (breadth) or in the
last ten minutes (pace); the stronger one speaks.  No customer id is kept: they
are counted as hashes in small bitmaps."""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.bands import LN2, band, basis
from detector.scoring.observation import Observation
from detector.scoring.signal import VIEW, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods

# The window over which browsing pace is measured.
PACE_SECONDS = 600


class Harvest(BaseSignal):
    """Breadth and pace of viewing, against the usual hour and ten minutes."""

    codes: ClassVar[tuple[str, ...]] = ("view_harvesting",)
    observes = assesses = refuses = frozenset({VIEW})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        if ev.action != "view":
            return
        obs.viewed, obs.viewed_10m, finished = emp.count_views(
            ev.ts, ev.customer_ids, ev.record_count, PACE_SECONDS, self.s.pace_min_distinct)
        if finished is not None:
            # The finished hour's distinct customers and its busiest ten minutes,
            # unless the hour was flagged.
            peer.learn_views(*finished)

    def assess(self, case: Case) -> None:
        s, obs = self.s, case.obs
        if obs.ev.data_out or (
            obs.viewed < s.harvest_min_distinct and obs.viewed_10m < s.pace_min_distinct
        ):
            return
        best: tuple[float, str, float, float, bool] | None = None
        for key, q in (("distinct_viewed_1h", obs.viewed), ("distinct_viewed_10m", obs.viewed_10m)):
            floor = s.harvest_min_distinct if key == "distinct_viewed_1h" else s.pace_min_distinct
            if q < floor:
                continue
            top, cold = band(s, key, obs.ev.ts, case.emp, case.peer, case.glob)
            excess = (math.log1p(q) - top) / LN2
            if best is None or excess > best[0]:
                best = (excess, key, q, top, cold)
        if best is None:
            return
        excess, key, q, top, cold = best
        case.cold = cold
        if excess <= 0:
            return
        pts = min(s.volume_cap, s.points_per_doubling * excess)
        usual = math.expm1(top)
        if key == "distinct_viewed_1h":
            text = (f"viewed {n(q)} distinct customers this hour; usual up to {n(usual)} "
                    f"({basis(cold)})")
            details = {"distinct_customers_1h": round(q), "usual_max": round(usual)}
        else:
            text = (f"viewed {n(q)} distinct customers in the last 10 minutes; usual up to "
                    f"{n(usual)} ({basis(cold)})")
            details = {"distinct_customers_10m": round(q), "usual_max": round(usual)}
        case.add(Reason("view_harvesting", text, pts, details))

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        if not cold:
            emp.flag_view_hour()  # its hour is not learned
