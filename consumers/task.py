"""A task: one input partition of the service, and everything it owns.

Partition p of the events topic and of the commands topic (co-partitioned)
belong to one task: its engine (the baselines of the employees keyed there),
its transactional producer, the outputs decided since its last checkpoint and
its audit trail.  The task decides nothing itself; the engine does.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from consumers.records import OutRecord, action_record
from detector.audit import ACTION as AUDIT_ACTION
from detector.audit import AuditLog
from detector.engine import Engine
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.times import rfc3339

log = logging.getLogger("insider.service")


class Task:
    """One input partition: its engine, its producer and what awaits the next checkpoint."""

    def __init__(self, partition: int, engine: Engine, producer: KafkaProducer | None) -> None:
        self.partition = partition
        self.engine = engine
        self.producer = producer
        self.pending: list[OutRecord] = []
        self.decided: list[Action] = []
        # The partition's audit trail and what awaits it: (kind, body, event time).
        self.audit: AuditLog | None = None
        self.audit_pending: list[tuple[str, dict[str, Any], str | float]] = []
        self.audit_marked = time.monotonic()
        self.events_next = 0
        self.commands_next = 0
        # The positions of the last commit: where the next transaction's input starts.
        self.checkpointed_at = (0, 0)
        self.changed = False
        self.last_event_wall = time.monotonic()
        # Quiet time already added to the engine's event time since the last event.
        self.idle_credited = 0.0
        # The engine's score counts as last reported to the metrics.
        self.scores_seen = list(engine.counters.scores)
        self.outcomes_seen = dict(engine.counters.outcomes)
        # The shared peer table (consumers.peer_sync): the last hour (event time)
        # this partition has closed, the one its last marker published, the one a
        # committed transaction holds, the events held behind the barrier, and
        # where to read again past the hold's bound.
        self.closed_hour = -(1 << 40)
        self.closed_sent = self.closed_hour
        self.closed_committed = self.closed_hour
        self.held: deque[Any] = deque()
        self.refetch_from: int | None = None

    @property
    def at(self) -> tuple[int, int]:
        return self.events_next, self.commands_next

    def emit(self, settings: Settings, act: Action) -> None:
        """An action decided: published, audited and reported at the next checkpoint."""
        self.pending.append(action_record(settings, act))
        self.decided.append(act)
        if self.audit is not None:
            self.audit_pending.append((AUDIT_ACTION, act.to_dict(), act.event_time))

    def write_audit(self, settings: Settings) -> None:
        """Chain what the task decided and was told into its trail, durably, before the
        checkpoint commits: every committed action is in the trail (one redone after a
        failed checkpoint may be there twice, with the same action id).  Now and then
        the head is marked and published in the same checkpoint."""
        trail = self.audit
        if trail is None:
            return
        for kind, body, at in self.audit_pending:
            trail.append(kind, body, at)
        self.audit_pending.clear()
        now = time.monotonic()
        if now - self.audit_marked >= settings.service.audit_head_every_s:
            self.audit_marked = now
            if trail.head()[0] >= 0:
                now_ts = time.time()
                seq, value = trail.mark_head(now_ts)
                head = {"partition": self.partition, "seq": seq, "hash": value,
                        "at": rfc3339(now_ts)}
                self.pending.append(OutRecord(settings.topics.audit_heads,
                                              str(self.partition).encode(),
                                              orjson.dumps(head)))
        trail.flush()


def open_audit(settings: Settings, partition: int, key: bytes | None) -> AuditLog | None:
    """The partition's audit trail, when ``service.audit_dir`` is set."""
    d = settings.service.audit_dir
    if not d:
        return None
    Path(d).mkdir(parents=True, exist_ok=True)
    path = Path(d) / f"{settings.topics.events}-{partition}.audit.jsonl"
    # A torn last line is a write cut short by a crash: moved aside, kept.
    return AuditLog.open(path, key, repair=True)


def log_action(act: Action, partition: int) -> None:
    """A line per published action, once it is committed: reason codes and counts only
    (an action's texts name territories and tiers, never a customer, but the codes
    are what a log search needs)."""
    extra: dict[str, Any] = {"action_id": act.action_id, "employee_id": act.employee_id,
                             "incident_id": act.incident_id, "severity": act.severity,
                             "score": act.score, "partition": partition,
                             "event_time": act.event_time}
    if act.type == "alert":
        extra["reasons"] = [r.code for r in act.reasons]
        extra["escalation"] = act.escalation
        log.info("alert", extra=extra)
    elif act.type == "freeze":
        extra["expires_at"] = act.expires_at
        log.warning("freeze", extra=extra)
    else:
        extra["release_reason"] = act.release_reason
        log.info("release", extra=extra)
