"""Events into a task's engine, in partition order, through the peer barrier.

Without a shared peer table every record is scored as it comes.  With one
(``consumers.peer_sync``), an event whose day the other partitions have not
reached yet is held with everything after it, and scored by ``drain`` once
the barrier opens; the input positions only ever cover what was scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from consumers.peer_sync import PeerGate
from consumers.stats import ServiceStats
from consumers.task import Task
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.events import parse_event

OnReject = Callable[[Task, InvalidRecord, TopicPartition, Any], None]


class Intake:
    def __init__(self, settings: Settings, stats: ServiceStats, on_reject: OnReject,
                 gate: PeerGate | None = None) -> None:
        self.settings = settings
        self.stats = stats
        self.on_reject = on_reject
        self.gate = gate

    def take(self, task: Task, tp: TopicPartition, msgs: list[Any]) -> None:
        """A poll's events for ``task``: scored, or held behind the barrier."""
        gate = self.gate
        horizon = time.time() + self.settings.input.max_future_seconds
        last_ts = None
        scored = 0
        for m in msgs:
            if gate is not None and (task.held or task.refetch_from is not None):
                if m.offset >= task.events_next and (
                        not task.held or m.offset > task.held[-1].offset):
                    gate.hold(task, m)
                continue
            ts = self._one(task, tp, m, horizon, first=True)
            if ts is None:
                continue
            scored += 1
            if ts == ts:  # not NaN: a scored event, not a rejected record
                last_ts = ts
        if last_ts is not None:
            self.stats.event_lag.observe(max(0.0, time.time() - last_ts))
        task.last_event_wall = time.monotonic()
        task.idle_credited = 0.0
        self.stats.events += scored
        task.changed = True

    def drain_all(self, tasks: Mapping[int, Task], consumer: KafkaConsumer | None) -> None:
        """Drain every task to a fixed point: a task that crosses an hour may open the
        barrier for another, so one pass moves a held backlog about an hour, and a pass
        per loop turn would cross one event hour per poll and checkpoint."""
        topic = self.settings.topics.events
        moved = True
        while moved:
            moved = False
            for p, task in list(tasks.items()):
                if task.held:
                    before = len(task.held)
                    self.drain(task, TopicPartition(topic, p), consumer)
                    moved = moved or len(task.held) < before

    def drain(self, task: Task, tp: TopicPartition, consumer: KafkaConsumer | None) -> None:
        """Score what the task holds, as far as the barrier now lets it; once all is
        scored, read again from where it stopped taking records."""
        horizon = time.time() + self.settings.input.max_future_seconds
        scored = 0
        while task.held:
            if self._one(task, tp, task.held[0], horizon, first=False) is None:
                break
            task.held.popleft()
            scored += 1
        if scored:
            self.stats.events += scored
            task.changed = True
        if not task.held and task.refetch_from is not None and consumer is not None:
            consumer.seek(tp, task.refetch_from)
            task.refetch_from = None

    def _one(self, task: Task, tp: TopicPartition, m: Any, horizon: float,
             first: bool) -> float | None:
        """Score one record: its event time (NaN for a rejected record), or None when
        the barrier holds it (the caller keeps it)."""
        try:
            if m.value is None:
                raise InvalidRecord("$", "is empty", "empty")
            ev = parse_event(m.value, max_bytes=self.settings.input.max_event_bytes)
            if ev.ts > horizon:
                raise InvalidRecord(
                    "timestamp", "is more than input.max_future_seconds ahead of "
                    "the detector's clock", "future_timestamp")
        except InvalidRecord as exc:
            self.on_reject(task, exc, tp, m)
            task.events_next = m.offset + 1
            return float("nan")
        gate = self.gate
        if gate is not None and not gate.admit(task, ev.ts, first):
            if first:
                gate.hold(task, m)
            return None
        for act in task.engine.process(ev):
            task.emit(self.settings, act)
        task.events_next = m.offset + 1
        return ev.ts
