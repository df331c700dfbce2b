"""What one event measured, and what it was judged to be worth."""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.wire.actions import Reason
from detector.wire.employees import EmployeeRecord
from detector.wire.events import Event


@dataclass(slots=True)
class Observation:
    """What one event measured, computed once and shared by scoring and learning.

    Kept with a refused event in checkpoints, so its fields are part of the
    state format: add new ones with defaults.
    """

    ev: Event
    rec: EmployeeRecord | None
    abs_hour: int
    how: int
    minute: int
    rows: int = 0
    rows_1h: float = 0.0
    rows_24h: float = 0.0
    actions_today: int = 0
    viewed: float = 0.0
    # Distinct customers viewed over the last ten minutes (sliding).
    viewed_10m: float = 0.0
    oot_share: float | None = None
    # The busiest territories outside the employee's, and what counted as theirs.
    oot_top: list[str] | None = None
    own_territories: frozenset[str] | list[str] | None = None
    # Doublings above the employee's own usual range (None: no own history).
    own_excess: float | None = None
    cusum: float = 0.0
    cusum_gain: float | None = None
    cusum_days: int = 0
    # Look-ups over the last half hour of the (up to) three most looked-up
    # customers, how many they are, and whether one is high-tier.
    lookups: float = 0.0
    lookup_customers: int = 0
    lookup_high: bool = False
    # Another device of this account active at the same time: how far away
    # (km) and how long before (minutes); 0 km when none.
    concurrent_km: float = 0.0
    concurrent_minutes: float = 0.0
    # Records deleted or updated (by this event's action) over the last hour.
    changed_1h: float = 0.0
    # Data-out actions and their rows over the last ten minutes.
    burst_actions: float = 0.0
    burst_rows: float = 0.0


@dataclass(slots=True)
class Assessment:
    """The score of one event, its reasons (strongest first), and whether it was
    judged against a wider reference than the employee's own baseline."""

    score: int
    reasons: list[Reason] = field(default_factory=list)
    cold_start: bool = False

    @property
    def top(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None


def score_of(reasons: list[Reason]) -> int:
    """The 0-100 score: the reasons' points added up, capped at both ends."""
    return round(min(100.0, max(0.0, sum(r.points for r in reasons))))
