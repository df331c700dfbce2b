"""The shared peer table across tasks and processes (``scoring.shared_peers``).

Every task publishes, in its checkpoint transaction, the member-day
contributions its engine changed and, once it reaches an event of a later hour
(event time) than any before, a marker "partition p closed hour H" (all it
learned in hour H or earlier is out).  Every process reads the
``topics.peer_stats`` topic in full, like the directory, into one peer table
that all its tasks share.  The **barrier**: a task scores the first event of
hour H+1 only once every input partition has closed hour H.  So the fold of a
day (models.peer_table) and the surge detector's marks of closed hours hold the
same contributions in every process, and the same as replay's for input in
time order.  Until then the task holds its
records in memory (bounded; beyond ``scoring.peer_hold_max`` it drops them
and seeks back once the barrier opens: partitions are never paused).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consumers.catch_up import read_covered
from consumers.global_table import GlobalTableFeed
from consumers.records import STATE_AT, OutRecord, state_at
from consumers.task import Task
from detector.partitioning import partition_for
from detector.settings import Settings
from models.peer_table import HOUR, Contribution, PeerTable

log = logging.getLogger("insider.peers")

CLOSED_KEY = b"closed"
NEVER = -(1 << 40)  # no hour closed yet


def contribution_key(day: int, group: str, member: str) -> bytes:
    return orjson.dumps([day, group, member])


def _decode(key: bytes, value: bytes) -> tuple[int, str, str, Contribution]:
    day, group, member = orjson.loads(key)
    return int(day), str(group), str(member), Contribution.from_wire(value)


def _closed_of(value: bytes) -> int:
    return int(orjson.loads(value)["closed_hour"])


class PeerFeed(GlobalTableFeed):
    """The peer-stats topic, read in full by every process into its peer table.

    Contributions of partitions this process owns are not applied: their owner
    writes them into the table directly (the topic only ever lags it).  The
    barrier reads the markers (``closed``), except in a process that owns every
    input partition: there it reads the closed hours its tasks' commits hold,
    so a single process crosses an hour without waiting for its own markers
    to go round the broker.  Either way only committed closes count: a task
    whose checkpoint fails starts again from its committed positions, and a
    close not yet committed could have let another task fold, and score
    from, a day the restarted one has not finished again.
    """

    def __init__(self, settings: Settings, table: PeerTable, partitions: int,
                 tasks: Mapping[int, Task]) -> None:
        super().__init__(settings, settings.topics.peer_stats, "peer-stats topic")
        self.table = table
        self.partitions = partitions
        self.tasks = tasks
        self.closed: dict[int, int] = {}

    def owned(self, partition: int) -> bool:
        return partition in self.tasks

    def closed_hours(self) -> list[int]:
        """Each input partition's committed closed hour: as its task's last commit
        left it when this process owns every partition, else its last marker's."""
        tasks, closed = self.tasks, self.closed
        if len(tasks) < self.partitions:
            return [closed.get(p, NEVER) for p in range(self.partitions)]
        return [tasks[p].closed_committed for p in range(self.partitions)]

    def poll(self, timeout_ms: int = 0) -> int:
        batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=5000)
        n = 0
        for tp, msgs in batch.items():
            for m in msgs:
                n += 1
                if m.key is None or m.value is None:
                    continue
                if m.key == CLOSED_KEY:
                    hour = _closed_of(m.value)
                    self.closed[tp.partition] = max(self.closed.get(tp.partition, NEVER), hour)
                elif not self.owned(tp.partition):
                    day, group, member, c = _decode(m.key, m.value)
                    self.table.add_remote(day, group, member, c)
        self.records += n
        return n

    def barrier(self) -> int:
        """The last hour every input partition has closed."""
        return min(self.closed_hours(), default=NEVER)

    def close(self) -> None:
        self.consumer.close()


def restore_partition(settings: Settings, table: PeerTable, partition: int,
                      committed: tuple[int, int], partitions: int) -> int:
    """A task's open: its partition's contributions of the days it has not closed
    are put back in the table as of the committed positions (per key, the last
    record not beyond them, as the changelog's restore does), replacing what the
    table held for its members.  Returns the partition's closed hour."""
    covered, _ = read_covered(settings, settings.topics.peer_stats, {partition: committed},
                              settings.service.restore_stall_s)
    latest = covered[partition]
    closed = _closed_of(latest.pop(CLOSED_KEY)) if CLOSED_KEY in latest else NEVER
    open_day = (closed + 1) // 24  # the first day with an hour not closed
    for day in list(table.pending):
        if day < open_day:
            continue
        for members in table.pending[day].values():
            for member in [m for m in members if partition_for(m, partitions) == partition]:
                del members[member]
    for key, value in latest.items():
        day, group, member, c = _decode(key, value)
        if day >= open_day:
            table.add_remote(day, group, member, c)
    return closed


def peer_records(settings: Settings, task: Task) -> list[tuple[int, OutRecord]]:
    """Checkpoint step 1 for the peer table: the contributions of the task's members
    changed since its last checkpoint, then its closed-hour marker if it moved."""
    table = task.engine.peer_table
    if table is None:
        return []
    topic = settings.topics.peer_stats
    headers = [(STATE_AT, state_at(*task.at))]
    out: list[tuple[int, OutRecord]] = []
    for member in sorted(task.engine.dirty):
        for day, group, c in table.take_touched(member):
            out.append((task.partition, OutRecord(
                topic, contribution_key(day, group, member), c.to_wire(), headers)))
    if task.closed_hour > task.closed_sent:
        out.append((task.partition, OutRecord(
            topic, CLOSED_KEY, orjson.dumps({"closed_hour": task.closed_hour}), headers)))
        task.closed_sent = task.closed_hour
    return out


def caught_up(consumer: KafkaConsumer | None, tp: TopicPartition) -> bool:
    """The consumer's position is at the partition's end as its last fetch saw it."""
    if consumer is None:
        return False
    hw = consumer.highwater(tp)
    try:
        return hw is not None and consumer.position(tp, timeout_ms=0) >= hw
    except KafkaError:
        return False


class PeerGate:
    """Whether a task may score an event now, and what it holds until it may."""

    def __init__(self, settings: Settings, feed: PeerFeed, table: PeerTable) -> None:
        self.settings = settings
        self.feed = feed
        self.table = table
        self.late_events = 0  # events of an hour their partition had already closed
        self.held_peak = 0
        self.dropped = 0  # records not taken past the bound, read again later

    def admit(self, task: Task, ts: float, first: bool = True) -> bool:
        """Called for each event in partition order, before scoring (``first``: not
        a held event tried again): closes the hours before a later hour's first
        event, and says whether the barrier lets it in."""
        hour = math.floor(ts / HOUR)
        if hour > task.closed_hour + 1:
            task.closed_hour = hour - 1
            task.changed = True  # the marker goes out with the next checkpoint
        elif hour <= task.closed_hour and first:
            self.late_events += 1
        return hour <= self.table.hour or self.feed.barrier() >= hour - 1

    def close_idle(self, task: Task, now_mono: float, caught_up: bool) -> None:
        """A caught-up task (its position at the partition's end) with no input for
        the grace period follows the others: it closes every hour some partition
        has closed, so an idle partition never holds the others back.  In event
        time, not wall-clock time: for input in time order its next event is no
        older than the newest the others have had, so it is not late."""
        grace = self.settings.scoring.peer_close_grace_s
        if task.held or not caught_up or now_mono - task.last_event_wall < grace:
            return
        hour = max(self.feed.closed_hours(), default=NEVER)
        if hour > task.closed_hour:
            task.closed_hour = hour
            task.engine.peer_open_hour = max(task.engine.peer_open_hour, hour + 1)
            task.changed = True

    def waits_on_a_commit(self, tasks: Iterable[Task]) -> bool:
        """Records are held and some task has closed an hour its commits do not hold
        yet: a checkpoint now, not at the next interval, may open the barrier."""
        tasks = list(tasks)
        return (any(t.held for t in tasks)
                and any(t.closed_hour > t.closed_committed for t in tasks))

    def hold(self, task: Task, message: Any) -> bool:
        """Keep ``message`` for later; False (dropped, to read again) past the bound."""
        if task.refetch_from is not None or len(task.held) >= self.settings.scoring.peer_hold_max:
            if task.refetch_from is None:
                task.refetch_from = message.offset
            self.dropped += 1
            return False
        task.held.append(message)
        self.held_peak = max(self.held_peak, len(task.held))
        return True
