"""The service's figures: plain counters the consume loop keeps without locks.

The loop writes them; the metrics collector (``consumers.metrics``) reads them
when Prometheus scrapes.  Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.progress import PartitionKey

# Decision latency: a batch is scored in about a millisecond per hundred
# events; the buckets span one event (0.1 ms) to a stalled batch (2.5 s).
DECISION_BOUNDS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5)
# Event time to decision: near-real-time streams sit in the first buckets;
# replays and backlogs land in the hour and day buckets.
LAG_BOUNDS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)
# Checkpoints: one transaction round trip (a few ms) to a slow broker (seconds).
CHECKPOINT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class BucketCounts:
    """A histogram the loop can feed without locks: counts per bucket and a sum."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        i = 0
        bounds = self.bounds
        while i < len(bounds) and value > bounds[i]:
            i += 1
        self.counts[i] += times
        self.total += value * times


@dataclass(slots=True)
class ServiceStats:
    events: int = 0
    commands: int = 0
    rejects: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    checkpoints: int = 0
    last_checkpoint: float = 0.0
    restores: int = 0
    state_entries_read: int = 0
    state_entries_refused: int = 0
    loop_heartbeat: float = 0.0
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    releases: dict[str, int] = field(default_factory=dict)
    freezes_active: int = 0
    scores: list[int] = field(default_factory=lambda: [0] * 101)
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    event_rejects: int = 0
    poll_errors: int = 0
    decision: BucketCounts = field(default_factory=lambda: BucketCounts(DECISION_BOUNDS))
    event_lag: BucketCounts = field(default_factory=lambda: BucketCounts(LAG_BOUNDS))
    checkpoint_time: BucketCounts = field(
        default_factory=lambda: BucketCounts(CHECKPOINT_BOUNDS))
    lag: dict[int, int] = field(default_factory=dict)
    partitions: int = 0
    employees: int = 0
    # Assigned input partitions, and those with input waiting and no progress for
    # service.stall_seconds (see consumers.progress).
    watched: frozenset[PartitionKey] = frozenset()
    stalled: frozenset[PartitionKey] = frozenset()
    # Shared peer table: events of a day their partition had closed (judged with a
    # view that may differ from replay's), and events held behind the barrier.
    peer_late_events: int = 0
    peer_held: int = 0

    def reject(self, code: str, event: bool = False) -> None:
        """One rejected record, counted by its code (and among the events' when it was one)."""
        self.rejects[code] = self.rejects.get(code, 0) + 1
        if event:
            self.event_rejects += 1
