"""The usual range every volume-type signal is measured against, and cold start.

Volumes are measured in *doublings above the top of the usual range* (mean +
k·sd of log1p volume), which reads the same for a rep exporting 20 rows and a
marketer exporting 5,000.  Until an employee's own history is long enough,
the range is blended from the next wider reference that has one.
"""

from __future__ import annotations

import math

from detector.settings import ScoringSettings
from models.baseline import EmployeeBaseline, PeerBaseline

LN2 = math.log(2)
# Prior for a world with no history at all: ~100 rows, very wide.
PRIOR_LOG_MEAN = math.log1p(100)
PRIOR_LOG_SD = 1.6


def band(
    s: ScoringSettings,
    key: str,
    ts: float,
    emp: EmployeeBaseline,
    peer: PeerBaseline,
    glob: PeerBaseline,
    ordinary: bool = True,
) -> tuple[float, bool]:
    """Top of the usual range of ``key`` (log1p units) and whether it is a cold start.

    A reference counts once it has ``peer_warmup`` observations over at
    least ``min_history_days``; before that the next wider one is used
    (peer group, then everyone, then a wide prior).  The employee's own band
    is blended in as their history grows.
    """
    k = s.k_band
    if key == "distinct_viewed_1h":
        floor, prior = math.log1p(s.harvest_min_distinct), math.log1p(20)
    elif key == "distinct_viewed_10m":
        floor, prior = math.log1p(s.pace_min_distinct), math.log1p(5)
    elif key == "actions_24h":
        floor, prior = math.log1p(s.chunk_min_actions), math.log1p(3)
    else:
        floor, prior = math.log1p(s.volume_floor_rows), math.log1p(100)
    ref_band = prior + k * PRIOR_LOG_SD
    ceiling: float | None = None
    for ref in (peer, glob):
        st = ref.stat(key)
        if st.n >= s.peer_warmup and ref.seen_days(ts) >= s.min_history_days:
            ref_band = st.band(k)
            # What the busiest 1% of the peer group does is within the job,
            # in an ordinary setting (not at night, not under notice).
            # Only for single actions: chunking and daily totals must not hide
            # behind the group's busiest days.
            ceiling = (
                ref.ceiling(key) if ref is peer and ordinary and key == "rows" else None
            )
            break
    ref_band = max(ref_band, floor)
    n_own = emp.stat(key).n
    if n_own == 0:
        top, cold = ref_band, True
    else:
        w = min(1.0, n_own / s.own_warmup, emp.seen_days(ts) / s.min_history_days)
        own_band = max(emp.band(key, k, ts), floor)
        top, cold = w * own_band + (1 - w) * ref_band, w < 1.0
    if ceiling is not None and ceiling > top:
        top = ceiling
    return top, cold


def basis(cold: bool, peers: int | None = None) -> str:
    """What a band was drawn from, in a reason's words (with how many peers, when known)."""
    if not cold:
        return "own baseline"
    return "peer group" if peers is None else f"peer group of {peers}"
