"""Rebalances and state recovery: tasks opened, dropped and reopened.

Assignment happens on kafka-python's network thread, where nothing may block,
so new partitions are only noted there and opened by the loop after its poll:
create the task's producer (``init_transactions`` fences the previous owner and
aborts its open transaction), read the committed offsets, restore the state
from the changelog, seek.  A revoke commits the tasks' checkpoints and drops
them; a loss drops them without a commit; a failed checkpoint drops the task
and reopens it from the changelog, so memory never runs ahead of what was
committed.

A partition is never paused: a partition without an open task (newly assigned,
or dropped after a failed checkpoint) is read and its records discarded until
the task opens and seeks it back to its committed positions.  (kafka-python
3.0 parks records fetched before a pause and may never hand them back after
the resume, starving the partition for good.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError

from consumers.bundle_watch import BundleWatch
from consumers.changelog import restore
from consumers.kafka_options import producer_options
from consumers.peer_sync import restore_partition
from consumers.stats import ServiceStats
from consumers.task import Task, open_audit
from consumers.transactions import abort_transaction, close_producer
from detector.directory import Directory
from detector.engine import Engine
from detector.partitioning import owner
from detector.settings import Settings
from models.peer_table import PeerTable

log = logging.getLogger("insider.service")

# Pause before the next try of an open that failed...
RETRY_PAUSE_S = 0.5
# ...doubled after each failure in a row, up to this (a broker restart takes seconds).
RETRY_PAUSE_MAX_S = 8.0

PartitionsHook = Callable[[set[TopicPartition]], None]


def transient(exc: KafkaError) -> bool:
    """Errors a later try can get past (kafka-python marks them): lost connections,
    timeouts, moving leaders."""
    return bool(exc.retriable)


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands the client's rebalance callbacks to the service (on the network thread)."""

    def __init__(self, revoked: PartitionsHook, assigned: PartitionsHook,
                 lost: PartitionsHook) -> None:
        self.revoked, self.assigned, self.lost = revoked, assigned, lost

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.revoked(revoked)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned(assigned)

    def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        self.lost(lost)


class Assignments:
    """The tasks of the partitions this member holds, and those waiting to be opened."""

    def __init__(
        self,
        settings: Settings,
        tasks: dict[int, Task],
        directory: Directory,
        stats: ServiceStats,
        stop_event: threading.Event,
        *,
        bundles: BundleWatch | None,
        state_key: bytes | None,
        audit_key: bytes | None,
        txn_timeout_s: float,
        peer_table: PeerTable | None = None,
    ) -> None:
        self.settings = settings
        # The process's shared peer table, and the input's partition count (for
        # which members a partition's restore replaces).
        self.peer_table = peer_table
        self.peer_partitions = 0
        self.tasks = tasks
        self.directory = directory
        self.stats = stats
        self.stop_event = stop_event
        self.bundles = bundles
        self.state_key = state_key
        self.audit_key = audit_key
        self.txn_timeout_s = txn_timeout_s
        self.exactly_once = settings.service.delivery == "exactly_once"
        self.consumer: KafkaConsumer | None = None
        self.to_open: set[int] = set()
        # Partitions of the events topic: a task's engine locks only its own leavers.
        self.partitions = 1
        self._open_retry = RETRY_PAUSE_S

    def assigned(self, assigned: set[TopicPartition]) -> None:
        """Noted only (network thread): the loop opens them after this poll; what it reads
        of them before is dropped, and read again after the open's seek."""
        parts = sorted({tp.partition for tp in assigned} - set(self.tasks))
        self.to_open.update(parts)
        log.info("partitions assigned", extra={"partitions": parts})

    def lost(self, lost: set[TopicPartition]) -> None:
        parts = {tp.partition for tp in lost} & set(self.tasks)
        for p in parts:
            self.drop(p, abort=True)
        log.warning("partitions lost", extra={"partitions": sorted(parts)})

    def checkpoint_failed(self, task: Task, exc: KafkaError, reopen: bool) -> None:
        """The task goes; unless fenced (taken over) it is reopened from the changelog."""
        p = task.partition
        if isinstance(exc, ProducerFencedError):
            log.warning("fenced: partition taken over", extra={"partition": p})
            self.drop(p)
            return
        log.error("checkpoint failed; state dropped, will restore",
                  extra={"partition": p, "error": repr(exc)})
        # After a timed-out step an abort would time out as well: the next
        # producer with this id aborts the transaction.
        self.drop(p, abort=not isinstance(exc, KafkaTimeoutError))
        if reopen and self.consumer is not None:  # never on the network thread (a revoke)
            # Not paused meanwhile (see the module's docstring).
            self.to_open.add(p)

    def open_assigned(self) -> None:
        """Opens the partitions noted since the last turn that are still assigned."""
        assert self.consumer is not None
        mine = {tp.partition for tp in self.consumer.assignment()}
        parts = sorted(self.to_open & mine)
        self.to_open.clear()
        if parts:
            try:
                self._open(parts)
            except KafkaError as exc:
                if not transient(exc):
                    raise
                for q in parts:  # half-opened tasks go; all are opened again next turn
                    self.drop(q, abort=True)
                self.to_open.update(parts)
                log.warning("opening partitions failed; retrying",
                            extra={"partitions": parts, "error": repr(exc),
                                   "pause_s": self._open_retry})
                self.stop_event.wait(self._open_retry)
                self._open_retry = min(2 * self._open_retry, RETRY_PAUSE_MAX_S)
                return
            self._open_retry = RETRY_PAUSE_S

    def _producers(self, parts: list[int]) -> dict[int, KafkaProducer | None]:
        """Exactly-once: each task's transactional producer, which fences a previous owner
        of its partition and aborts its open transaction before the committed positions
        are read."""
        s = self.settings
        producers: dict[int, KafkaProducer | None] = {}
        for p in parts:
            if not self.exactly_once:
                producers[p] = None
                continue
            producer = KafkaProducer(
                transactional_id=f"{s.service.transactional_id_prefix}-{s.topics.events}-{p}",
                **producer_options(s.kafka),
            )
            try:
                producer.init_transactions()
            except KafkaError:
                close_producer(producer, 5)
                for opened in producers.values():
                    if opened is not None:
                        close_producer(opened, 5)
                raise
            producers[p] = producer
        return producers

    def _open(self, parts: list[int]) -> None:
        """Producers, committed positions, state restored from the changelog, seek."""
        s = self.settings
        consumer = self.consumer
        assert consumer is not None
        producers = self._producers(parts)
        committed = {}
        for p in parts:
            e = consumer.committed(TopicPartition(s.topics.events, p))
            c = consumer.committed(TopicPartition(s.topics.commands, p))
            committed[p] = (e or 0, c or 0)
        restored = restore(s, parts, committed, self.state_key, s.service.restore_stall_s)
        for p in parts:
            engine = Engine(s, self.directory, owns=owner(p, self.partitions),
                            peer_table=self.peer_table)
            r = restored[p]
            engine.load_state(r.shared, r.employees)
            task = Task(p, engine, producers[p])
            if self.peer_table is not None:
                # The partition's open days' contributions, as of the committed positions.
                closed = restore_partition(s, self.peer_table, p, committed[p],
                                           self.peer_partitions)
                task.closed_hour = task.closed_sent = task.closed_committed = closed
                engine.peer_open_hour = max(engine.peer_open_hour, closed + 1)
            task.audit = open_audit(s, p, self.audit_key)
            if self.bundles is not None and self.bundles.adopt(engine, p) is not None:
                task.changed = True  # the bundle's baselines go into the next checkpoint
            task.events_next, task.commands_next = committed[p]
            task.checkpointed_at = committed[p]
            self.tasks[p] = task
            consumer.seek(TopicPartition(s.topics.events, p), committed[p][0])
            consumer.seek(TopicPartition(s.topics.commands, p), committed[p][1])
            self.stats.restores += 1
            self.stats.state_entries_read += r.entries_read
            self.stats.state_entries_refused += r.refused
            log.info("state restored", extra={"partition": p, "employees": len(r.employees),
                                              "entries_read": r.entries_read,
                                              "at": list(committed[p])})

    def drop(self, p: int, abort: bool = False) -> None:
        """The task goes: its trail closed, its producer closed (its transaction aborted
        with ``abort``)."""
        task = self.tasks.pop(p, None)
        if task is not None and task.audit is not None:
            task.audit.close()
        if task is None or task.producer is None:
            return
        if abort:
            # A timed-out abort leaves the transaction to the next producer with this
            # id, whose init_transactions aborts it.
            with contextlib.suppress(Exception):
                abort_transaction(task.producer, self.txn_timeout_s)
        close_producer(task.producer, 5)
