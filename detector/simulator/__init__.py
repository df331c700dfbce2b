"""A synthetic CRM world with known insiders, to test the detector against honest ground truth.

``simulate`` builds a world in memory; ``stream_world`` writes the same world to disk a day at
a time for sizes that do not fit in memory.
"""

from __future__ import annotations

from detector.simulator.config import BENIGN_KINDS, MALICIOUS_KINDS, SimConfig
from detector.simulator.world import World, simulate
from detector.simulator.writer import Summary, stream_world, write_world

__all__ = [
    "BENIGN_KINDS",
    "MALICIOUS_KINDS",
    "SimConfig",
    "Summary",
    "World",
    "simulate",
    "stream_world",
    "write_world",
]
