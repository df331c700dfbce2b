"""The checkpoint: what makes a task's work since the last one durable.

Per task that changed, in this order of effect:

1. **produce** the actions, dead letters and audit heads decided since the last
   checkpoint, stamped with the input range they came from (``provenance``),
   and with a shared peer table the contributions the engine changed and the
   partition's closed-day marker (``consumers.peer_sync``);
2. **flush**: the broker holds them before anything depends on them (in
   exactly-once mode the transaction's commit flushes);
3. **persist state**: the changelog entries of every employee the task changed
   and of its shared state, stamped with the input positions they reflect,
   produced behind the outputs; and the audit trail, chained and flushed to disk
   before anything is produced (its head is one of the outputs);
4. **commit offsets**: the input positions, only once 1-3 are written.

In exactly-once mode all four happen in the task's own Kafka transaction
(``send_offsets_to_transaction``), so they commit or abort together, and the
tasks' transactions commit concurrently.  In at-least-once mode the shared
producer flushes 1-3 before the consumer commits 4.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.changelog import checkpoint_records
from consumers.peer_sync import peer_records
from consumers.provenance import with_provenance
from consumers.records import OutRecord
from consumers.stats import ServiceStats
from consumers.task import Task, log_action
from consumers.transactions import commit_offsets_and_transaction
from detector.settings import Settings
from detector.wire.actions import Action

# Records a checkpoint writes: (partition or None for the key's, record).
Records = list[tuple[int | None, OutRecord]]
Offsets = dict[TopicPartition, OffsetAndMetadata]
# Steps 1-4 for one task in its transaction: (task, records, offsets, group metadata).
Transact = Callable[[Task, Records, Offsets, Any], None]
# Called for a task whose checkpoint failed, in the order the tasks were committed.
OnFailure = Callable[[Task, KafkaError], None]

log = logging.getLogger("insider.service")


def transact(task: Task, records: Records, offsets: Offsets, group: Any,
             timeout_s: float) -> None:
    """Steps 1-4 in the task's transaction; each transaction step bounded by ``timeout_s``."""
    producer = task.producer
    assert producer is not None
    producer.begin_transaction()
    for part, r in records:  # 1 and 3: the outputs, then the changelog entries
        producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=part)
    # 4 with the offsets, and 2: committing the transaction flushes it.
    commit_offsets_and_transaction(producer, offsets, group, timeout_s)


class Checkpoint:
    """The next checkpoint of the tasks: due at ``deadline`` (monotonic seconds)."""

    def __init__(
        self,
        settings: Settings,
        tasks: dict[int, Task],
        deadline: float,
        *,
        state_key: bytes | None,
        stats: ServiceStats,
        on_action: Callable[[Action], None] | None,
        on_committed: Callable[[Task], None] | None = None,
    ) -> None:
        self.settings = settings
        self.tasks = tasks
        self.deadline = deadline
        self.state_key = state_key
        self.stats = stats
        self.on_action = on_action
        self.on_committed = on_committed

    def expired(self, now: float) -> bool:
        """Due: the cadence's time has come."""
        return now >= self.deadline

    def empty(self, partitions: set[int] | None = None) -> bool:
        """Nothing to write: no task (of ``partitions``) changed since its last commit."""
        return not self._changed(partitions)

    def _changed(self, partitions: set[int] | None) -> list[Task]:
        chosen = self.tasks if partitions is None else partitions
        return [self.tasks[p] for p in sorted(chosen) if p in self.tasks and self.tasks[p].changed]

    def commit(
        self,
        consumer: KafkaConsumer,
        exactly_once: Transact | None,
        side_producer: KafkaProducer | None,
        pool: ThreadPoolExecutor,
        on_failure: OnFailure,
        partitions: set[int] | None = None,
    ) -> None:
        """Steps 1-4 for every task (of ``partitions``) with new work: in its transaction
        with ``exactly_once``, else through ``side_producer`` then the consumer.

        State is serialised here, on the loop's thread; only the broker round trips
        (each task's own producer) run in parallel.  A task whose checkpoint failed is
        handed to ``on_failure``; any other error propagates.
        """
        started = time.perf_counter()
        todo = self._changed(partitions)
        if not todo:
            return
        group = consumer.group_metadata()
        prepared = [(task, self._prepare(task)) for task in todo]
        errors: list[BaseException | None]
        if exactly_once is not None and len(prepared) > 1:
            futures = [pool.submit(exactly_once, task, records, offsets, group)
                       for task, (records, offsets) in prepared]
            errors = [f.exception() for f in futures]
        else:
            errors = []
            for task, (records, offsets) in prepared:
                try:
                    if exactly_once is not None:
                        exactly_once(task, records, offsets, group)
                    else:
                        assert side_producer is not None
                        _flushed_then_committed(side_producer, consumer, records, offsets)
                    errors.append(None)
                except KafkaError as exc:
                    errors.append(exc)
        done = 0
        for (task, _), failure in zip(prepared, errors, strict=True):
            if failure is None:
                self._committed(task)
                done += 1
            elif isinstance(failure, KafkaError):
                on_failure(task, failure)
            else:
                raise failure
        elapsed = time.perf_counter() - started
        if done:
            self.stats.checkpoints += done
            self.stats.checkpoint_time.observe(elapsed)
            self.stats.last_checkpoint = time.time()
        # A broker that went away and came back while the client retried leaves no
        # error, only a loop held for as long as /healthz failed: say so.
        if elapsed >= self.settings.service.stall_seconds:
            log.warning("checkpoint slow: the broker answered late or not at all",
                        extra={"seconds": round(elapsed, 1), "tasks": len(todo),
                               "failed": len(todo) - done})

    def _prepare(self, task: Task) -> tuple[Records, Offsets]:
        """The task's records (outputs, then changelog entries) and input positions; the
        audit trail is written first (step 3) since its head is one of the outputs."""
        s = self.settings
        task.write_audit(s)
        records: Records = [
            (None, r) for r in with_provenance(task.pending, task.partition, task.checkpointed_at,
                                               task.at, task.producer)]
        # The peer table's contributions and closed-day marker: before the changelog
        # takes the engine's changed employees, in the same transaction.
        records += peer_records(s, task)
        records += checkpoint_records(s.topics.changelog, task.partition, task.engine, task.at,
                                      self.state_key)
        offsets = {
            TopicPartition(s.topics.events, task.partition):
                OffsetAndMetadata(task.events_next, "", -1),
            TopicPartition(s.topics.commands, task.partition):
                OffsetAndMetadata(task.commands_next, "", -1),
        }
        return records, offsets

    def _committed(self, task: Task) -> None:
        """What the commit made final is reported: counted, logged, handed to the hook."""
        task.pending.clear()
        decided, task.decided = task.decided, []
        st = self.stats
        for act in decided:
            st.actions[act.type] = st.actions.get(act.type, 0) + 1
            if act.type == "alert":
                key = (act.severity, act.reasons[0].code if act.reasons else "none")
                st.alerts[key] = st.alerts.get(key, 0) + 1
            elif act.type == "release":
                why = act.release_reason or "unknown"
                st.releases[why] = st.releases.get(why, 0) + 1
            log_action(act, task.partition)
            if self.on_action is not None:
                self.on_action(act)
        task.checkpointed_at = task.at
        task.closed_committed = task.closed_sent  # its marker went out in this commit
        task.changed = False  # last: a reader who sees it also sees the actions reported
        if self.on_committed is not None:
            self.on_committed(task)


def _flushed_then_committed(producer: KafkaProducer, consumer: KafkaConsumer,
                            records: Records, offsets: Offsets) -> None:
    """At-least-once: 1 and 3 through the shared producer, 2 its flush, then 4."""
    futures = [producer.send(r.topic, key=r.key, value=r.value, headers=r.headers,
                             partition=part) for part, r in records]
    producer.flush()
    for f in futures:
        f.get(timeout=0)  # raises if the write failed: offsets stay behind
    consumer.commit(offsets)
