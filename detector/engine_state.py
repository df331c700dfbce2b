"""What an engine keeps per employee beside the baseline, and what it counts.

Apart from the engine's loop so that a checkpoint's reader (the changelog) and
a newcomer find the state's shape in one short module.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field

from detector.scoring import Observation
from models.baseline import EmployeeBaseline

# Event ids remembered per employee to drop redelivered events: producers retry,
# and a replayed batch must not count twice in a rolling window.
RECENT_IDS = 64
FP_BYTES = 8  # bytes per remembered id


def fingerprint(event_id: str) -> bytes:
    """Eight stable bytes per event id (Python's hash() changes between processes)."""
    b = event_id.encode()
    return ((zlib.crc32(b) << 32) | zlib.adler32(b)).to_bytes(FP_BYTES, "little")


def holds(ring: bytearray, fp: bytes) -> bool:
    i = ring.find(fp)
    while i != -1:
        if i % FP_BYTES == 0:
            return True
        i = ring.find(fp, i + 1)
    return False


@dataclass(slots=True)
class Refusal:
    event_id: str
    obs: Observation
    cold_start: bool
    codes: tuple[str, ...]
    peer_group: str | None


@dataclass(slots=True)
class EmployeeState:
    """What a checkpoint holds for one employee."""

    baseline: EmployeeBaseline
    refused: list[Refusal]
    suppressed: dict[str, float]
    recent: bytes = b""


def for_state(obs: Observation) -> Observation:
    """Learning later needs counts, not customer ids or the directory record."""
    ev = obs.ev
    if ev.customer_ids:
        ev = dataclasses.replace(ev, customer_ids=())
    return dataclasses.replace(obs, ev=ev, rec=None)


@dataclass(slots=True)
class Counters:
    events: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    freezes: int = 0
    releases: int = 0
    unknown_employees: int = 0
    # How many events got each score, 0 to 100.
    scores: list[int] = field(default_factory=lambda: [0] * 101)
    # (action, outcome) -> events.  Outcomes: normal (scored below the alert
    # threshold, learned), suspicious (at or above it, kept out of the baseline),
    # duplicate (an event id seen lately for the same employee; skipped).
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
