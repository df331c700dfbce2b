"""Per-partition progress watchdog for the service's liveness check.

A consume loop that turns is not enough: a partition the client has silently
stopped returning (or one that cannot be opened) leaves the loop green while
its alerts and freezes stop.  Each checkpoint turn the loop reports, for every
input partition it is assigned, where it stands and where the partition ends;
a partition whose position has not moved for ``stall_seconds`` although it had
something to read (or whose end is unknown, or that is not open) is stalled.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.errors import KafkaError

log = logging.getLogger("insider.service")

# (input role: "events" or "commands", partition number)
PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an assigned partition stands: ``position`` is the next offset the service
    will process (None while its task is not open), ``end`` the last known end of the
    partition (None while no fetch answer has told it)."""

    position: int | None
    end: int | None

    @property
    def caught_up(self) -> bool:
        return self.position is not None and self.end is not None and self.position >= self.end


class ProgressWatch:
    """Remembers, per assigned partition, the position last seen and since when it has
    not moved on while it had something to read."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._since: dict[PartitionKey, tuple[int | None, float]] = {}
        self.stalled: frozenset[PartitionKey] = frozenset()
        self.watched: frozenset[PartitionKey] = frozenset()

    def observe(self, now: float, standings: dict[PartitionKey, Standing]) -> None:
        """One look at every assigned partition (monotonic ``now``); partitions no longer
        assigned are forgotten, newly assigned ones start their clock now."""
        since: dict[PartitionKey, tuple[int | None, float]] = {}
        stalled: set[PartitionKey] = set()
        for key, st in standings.items():
            before = self._since.get(key)
            # Progress is a position beyond the last one seen; a task dropped (None)
            # or reopened further back has not moved its partition on.
            moved = (before is not None and before[0] is not None and st.position is not None
                     and st.position > before[0])
            if before is None or moved or st.caught_up:
                since[key] = (st.position, now)
                continue
            since[key] = (st.position, before[1])
            if now - before[1] >= self.stall_seconds:
                stalled.add(key)
        for key in sorted(stalled - self.stalled):
            st = standings[key]
            log.error("partition stalled: no progress with input waiting",
                      extra={"input": key[0], "partition": key[1], "position": st.position,
                             "end": st.end, "seconds": round(now - since[key][1], 1)})
        for key in sorted((self.stalled - stalled) & set(standings)):
            log.info("partition progressing again", extra={"input": key[0], "partition": key[1]})
        self._since = since
        self.stalled = frozenset(stalled)
        self.watched = frozenset(standings)


def standings(consumer: KafkaConsumer, roles: dict[str, str],
              open_partitions: set[int]) -> dict[PartitionKey, Standing]:
    """Every partition assigned to ``consumer``, keyed by its topic's role.

    Every record a poll returns for an open task is processed in the same loop
    turn, so the client's position is the task's (and, unlike the records'
    offsets, it also steps over transaction markers)."""
    out: dict[PartitionKey, Standing] = {}
    for tp in consumer.assignment():
        position: int | None = None
        if tp.partition in open_partitions:
            with contextlib.suppress(KafkaError):
                position = consumer.position(tp, timeout_ms=0)
        out[(roles[tp.topic], tp.partition)] = Standing(position, consumer.highwater(tp))
    return out
