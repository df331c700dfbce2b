"""The streaming service: the engine on Kafka, one task per input partition.

The service is the application: it loads the directory, joins the consumer
group and runs the poll loop, which routes each record to its partition's
task (``consumers.task``) and, at an adaptive cadence, commits a checkpoint
(``consumers.checkpoint``: outputs, state and input positions, in exactly-once
mode in each task's transaction).  Rebalances and state recovery are in
``consumers.rebalance``; the figures the loop keeps for the metrics in
``consumers.stats``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from consumers.bundle_watch import BundleWatch
from consumers.checkpoint import Checkpoint, Offsets, Records, transact
from consumers.directory_feed import DirectoryFeed
from consumers.intake import Intake
from consumers.kafka_options import consumer_options, producer_options
from consumers.metrics import serve
from consumers.peer_sync import PeerFeed, PeerGate, caught_up
from consumers.progress import ProgressWatch, standings
from consumers.rebalance import Assignments, Listener, transient
from consumers.records import dead_letter
from consumers.stats import ServiceStats
from consumers.task import Task
from consumers.topics import ensure_topics
from consumers.transactions import close_producer
from detector.audit import COMMAND as AUDIT_COMMAND
from detector.directory import Directory
from detector.errors import InvalidRecord
from detector.settings import Settings, read_secret
from detector.wire.actions import Action
from detector.wire.commands import FALSE_POSITIVE, parse_command
from models.bundle import BundleError
from models.peer_table import PeerTable

__all__ = ["Service", "ServiceStats", "Task"]

log = logging.getLogger("insider.service")

ActionHook = Callable[[Action], None]
# Checkpoints get at most 1 / CHECKPOINT_SHARE of the loop's time under load.
CHECKPOINT_SHARE = 5.0
# ...once scoring takes more than this share of the time between checkpoints.
SATURATED = 0.5
# Pause between polls while the broker cannot be reached.
RETRY_PAUSE_S = 0.5
# ...doubled after each failure in a row, up to this (a broker restart takes seconds).
RETRY_PAUSE_MAX_S = 8.0


class Service:
    def __init__(
        self,
        settings: Settings,
        on_action: ActionHook | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.on_action = on_action
        self.stop_event = stop or threading.Event()
        self.exactly_once = settings.service.delivery == "exactly_once"
        key = read_secret(settings.service.state_key, settings.service.state_key_file,
                          "service.state_key")
        self.state_key = key.encode() if key else None
        audit_key = read_secret("", settings.service.audit_key_file, "service.audit_key")
        self.audit_key = audit_key.encode() if audit_key else None
        self.directory = Directory()
        self.tasks: dict[int, Task] = {}
        self.stats = ServiceStats()
        self.consumer: KafkaConsumer | None = None
        self.side_producer: KafkaProducer | None = None
        self.feed: DirectoryFeed | None = None
        self._interval = settings.service.commit_interval_ms / 1000.0
        # A transaction step not done in this time fails the checkpoint (see
        # consumers.transactions).
        self._txn_timeout_s = 2 * settings.kafka.request_timeout_ms / 1000.0
        # Current pause before the next try of a poll that failed.
        self._poll_retry = RETRY_PAUSE_S
        self._metrics_server: Any = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="checkpoint")
        self._looping = False
        self._loaded = False
        self.bundles = BundleWatch(settings) if settings.service.bundle_path else None
        self._next_bundle_check = 0.0
        self.progress = ProgressWatch(settings.service.stall_seconds)
        sc = settings.scoring
        # One peer table per process, shared by its tasks (consumers.peer_sync).
        self.peer_table = (PeerTable(sc.peer_member_cap, sc.peer_day_decay)
                           if sc.shared_peers else None)
        if self.peer_table is not None:
            self.peer_table.publishing = True
        self.peer_feed: PeerFeed | None = None
        self.intake = Intake(settings, self.stats, self._reject)
        self.assignments = Assignments(
            settings, self.tasks, self.directory, self.stats, self.stop_event,
            bundles=self.bundles, state_key=self.state_key, audit_key=self.audit_key,
            txn_timeout_s=self._txn_timeout_s, peer_table=self.peer_table)
        self.next_checkpoint = self._checkpoint_at(time.monotonic())

    # -- life cycle ---------------------------------------------------------

    def run(self) -> int:
        """Serve until ``stop_event`` is set; returns the process exit code."""
        s = self.settings
        if s.service.metrics_port:
            _, self._metrics_server = serve(self, s.service.metrics_port, s.service.metrics_host)
        partitions = ensure_topics(s)[s.topics.events]
        self.assignments.partitions = partitions
        if self.bundles is not None:
            self.bundles.partitions = partitions
            self.bundles.check()
            if self.bundles.refused:  # never start on a bundle that failed its checks
                raise BundleError(f"service.bundle_path = {s.service.bundle_path}: refused "
                                  f"(see the log line before)")
            if self.peer_table is not None:
                # Restored tasks do not adopt the bundle again, but the table
                # starts from its fitted view in every process, at every start.
                self.bundles.seed(self.peer_table)
        self.side_producer = KafkaProducer(**producer_options(s.kafka))
        self.feed = DirectoryFeed(s, self.directory, self._directory_reject)
        n = self.feed.catch_up(s.service.directory_load_timeout_s)
        if self.peer_table is not None:
            # The table rebuilt from the topic before anything is scored.
            self.assignments.peer_partitions = partitions
            self.peer_feed = PeerFeed(s, self.peer_table, partitions, self.tasks)
            self.peer_feed.catch_up(s.service.directory_load_timeout_s)
            self.intake.gate = PeerGate(s, self.peer_feed, self.peer_table)
        self._loaded = True
        log.info("directory loaded", extra={"records": n, "rejects": self.feed.rejects})
        self.consumer = self.assignments.consumer = KafkaConsumer(**consumer_options(s.kafka))
        self.consumer.subscribe([s.topics.events, s.topics.commands],
                                listener=Listener(self.on_revoked, self.on_assigned,
                                                  self.on_lost))
        log.info("started", extra={"delivery": s.service.delivery,
                                   "group": s.kafka.group_id})
        self._looping = True
        try:
            self._loop(self.feed, self.consumer)
            self.checkpoint()
        except Exception:
            log.exception("stopped by an error; uncommitted work is redone by the next owner")
            raise
        finally:
            self._looping = False
            self.close()
        log.info("stopped", extra={"events": self.stats.events})
        return 0

    def _loop(self, feed: DirectoryFeed, consumer: KafkaConsumer) -> None:
        """Poll, handle, open what was assigned, and checkpoint when it is due."""
        self.next_checkpoint = self._checkpoint_at(time.monotonic())
        last_checkpoint = time.monotonic()
        busy = 0.0
        while not self.stop_event.is_set():
            self.stats.loop_heartbeat = time.time()
            wait = max(0.0, self.next_checkpoint.deadline - time.monotonic())
            batch = self._poll(feed, consumer, wait)
            if batch:
                # Before opening: records of a partition not yet open are dropped
                # (its open seeks back to the committed positions).
                began = time.monotonic()
                self._handle(batch)
                took = time.monotonic() - began
                busy += took
                self.stats.decision.observe(took)
            if self.assignments.to_open:
                self.assignments.open_assigned()
            if self.intake.gate is not None:
                began = time.monotonic()
                self._drain_held()
                busy += time.monotonic() - began
                if self.intake.gate.waits_on_a_commit(self.tasks.values()):
                    self.next_checkpoint = self._checkpoint_at(time.monotonic())
            now = time.monotonic()
            if not self.next_checkpoint.expired(now):
                continue
            if self.bundles is not None and now >= self._next_bundle_check:
                self._next_bundle_check = now + self.settings.service.bundle_check_s
                self._swap_bundle()
            self._expire_idle(now)
            self.checkpoint()
            took = time.monotonic() - now
            self._gauges()
            # A steady cadence while the loop keeps up.  When it is saturated (mostly
            # scoring), checkpoints are spaced so that they take at most a fifth of its
            # time: latency then gives way to throughput.
            step = self._interval
            if busy > SATURATED * (now - last_checkpoint):
                step = max(step, CHECKPOINT_SHARE * took)
            if step > self._interval:
                due = now + step
            else:
                due = max(self.next_checkpoint.deadline + step, now)
            self.next_checkpoint = self._checkpoint_at(due)
            last_checkpoint, busy = now, 0.0

    def _poll(self, feed: DirectoryFeed, consumer: KafkaConsumer,
              wait: float) -> dict[TopicPartition, list[Any]]:
        """One poll of the directory and the input; empty while the broker is unreachable."""
        try:
            feed.poll(0)
            if self.peer_feed is not None:
                self.peer_feed.poll(0)
            batch: dict[TopicPartition, list[Any]] = consumer.poll(
                timeout_ms=int(wait * 1000) + 1)
        except KafkaError as exc:
            if not transient(exc):
                raise
            # A broker or network blip: the client reconnects; positions and
            # uncommitted work are still in hand.
            self.stats.poll_errors += 1
            log.warning("broker unreachable; retrying",
                        extra={"error": repr(exc), "pause_s": self._poll_retry})
            self.stop_event.wait(self._poll_retry)
            self._poll_retry = min(2 * self._poll_retry, RETRY_PAUSE_MAX_S)
            return {}
        self._poll_retry = RETRY_PAUSE_S
        return batch

    def close(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                self.consumer.close(autocommit=False)
            self.consumer = self.assignments.consumer = None
        for task in self.tasks.values():
            if task.producer is not None:
                close_producer(task.producer, 5)
            if task.audit is not None:
                task.audit.close()
        self.tasks.clear()
        if self.side_producer is not None:
            close_producer(self.side_producer, 5)
            self.side_producer = None
        if self.feed is not None:
            self.feed.close()
            self.feed = None
        if self.peer_feed is not None:
            self.peer_feed.close()
            self.peer_feed = None
        self._pool.shutdown(wait=True)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None

    # -- processing -----------------------------------------------------------

    def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        events_topic = self.settings.topics.events
        for tp, msgs in batch.items():
            task = self.tasks.get(tp.partition)
            if task is None:  # revoked, or not open yet: read again after the open's seek
                continue
            if tp.topic == events_topic:
                self.intake.take(task, tp, msgs)
            else:
                for m in msgs:
                    self._command(task, tp, m)
                task.commands_next = msgs[-1].offset + 1
                self.stats.commands += len(msgs)
            task.changed = True

    def _drain_held(self) -> None:
        """Tasks held behind the peer barrier score what it now lets through; idle
        ones close the days the grace period has passed."""
        gate = self.intake.gate
        assert gate is not None
        topic = self.settings.topics.events
        self.intake.drain_all(self.tasks, self.consumer)
        now_mono = time.monotonic()
        for p, task in list(self.tasks.items()):
            gate.close_idle(task, now_mono, caught_up(self.consumer, TopicPartition(topic, p)))
        self.stats.peer_late_events = gate.late_events
        self.stats.peer_held = sum(len(t.held) for t in self.tasks.values())

    def _gauges(self) -> None:
        """Figures for the metrics, taken on the loop's thread (scrapes run on another)."""
        st = self.stats
        events = self.settings.topics.events
        freezes = employees = 0
        lag: dict[int, int] = {}
        for p, task in self.tasks.items():
            engine = task.engine
            employees += engine.employee_count()
            freezes += engine.active_freezes()
            seen, now_scores = task.scores_seen, engine.counters.scores
            for i, n in enumerate(now_scores):
                if n != seen[i]:
                    st.scores[i] += n - seen[i]
                    seen[i] = n
            was = task.outcomes_seen
            for key, n in engine.counters.outcomes.items():
                if n != was.get(key, 0):
                    st.outcomes[key] = st.outcomes.get(key, 0) + n - was.get(key, 0)
                    was[key] = n
            hw = self.consumer.highwater(TopicPartition(events, p)) if self.consumer else None
            if hw is not None:
                lag[p] = max(0, hw - task.events_next)
        st.freezes_active, st.employees, st.partitions, st.lag = (
            freezes, employees, len(self.tasks), lag)
        self._watch_progress()

    def _watch_progress(self) -> None:
        """Where every assigned input partition stands, for the progress watchdog."""
        if self.consumer is None:
            return
        roles = {self.settings.topics.events: "events", self.settings.topics.commands: "commands"}
        self.progress.observe(time.monotonic(), standings(self.consumer, roles, set(self.tasks)))
        self.stats.watched, self.stats.stalled = self.progress.watched, self.progress.stalled

    def healthy(self) -> bool:
        """False once the consume loop has not turned for ``service.stall_seconds``, or an
        assigned partition with input waiting has made no progress for as long."""
        if not self._looping:
            return not self.stop_event.is_set()
        turning = time.time() - self.stats.loop_heartbeat < self.settings.service.stall_seconds
        return turning and not self.stats.stalled

    def ready(self) -> bool:
        """True once the directory is loaded and every assigned partition restored."""
        return self._loaded and self._looping and not self.assignments.to_open

    def _swap_bundle(self) -> None:
        """A newly published bundle goes into every task; the next checkpoint records it."""
        assert self.bundles is not None
        if not self.bundles.check():
            return
        for task in self.tasks.values():
            if self.bundles.adopt(task.engine, task.partition) is not None:
                task.changed = True

    def _expire_idle(self, now: float) -> None:
        """Release freezes and publish offboarding locks on partitions that have gone
        quiet (see idle_expiry_after_s): event time moves on with the wall clock."""
        after = self.settings.service.idle_expiry_after_s
        for task in self.tasks.values():
            engine = task.engine
            quiet = now - task.last_event_wall
            if quiet < after or engine.next_due == float("inf"):
                continue
            if engine.watermark == float("-inf"):
                continue
            acts = engine.advance(engine.watermark + quiet - task.idle_credited)
            task.idle_credited = quiet
            for act in acts:
                task.emit(self.settings, act)
            if acts:
                task.changed = True

    def _command(self, task: Task, tp: TopicPartition, m: Any) -> None:
        try:
            if m.value is None:
                raise InvalidRecord("$", "is empty", "empty")
            cmd = parse_command(m.value)
        except InvalidRecord as exc:
            self._reject(task, exc, tp, m)
            return
        engine = task.engine
        if cmd.command == FALSE_POSITIVE:
            assert cmd.action_id is not None
            acts = engine.false_positive(cmd.employee_id, cmd.action_id)
        else:
            acts = engine.release(cmd.employee_id, "analyst")
        log.info("command applied", extra={"command": cmd.command,
                                           "employee_id": cmd.employee_id,
                                           "actions": len(acts)})
        if task.audit is not None:
            body = {"command": cmd.command, "employee_id": cmd.employee_id,
                    "action_id": cmd.action_id, "reason": cmd.reason, "analyst": cmd.analyst,
                    "topic": tp.topic, "partition": tp.partition, "offset": m.offset}
            at = m.timestamp / 1000.0 if m.timestamp and m.timestamp > 0 else time.time()
            task.audit_pending.append((AUDIT_COMMAND, body, at))
        for act in acts:
            task.emit(self.settings, act)

    def _reject(self, task: Task, exc: InvalidRecord, tp: TopicPartition, m: Any) -> None:
        self.stats.reject(exc.code, event=tp.topic == self.settings.topics.events)
        task.pending.append(dead_letter(self.settings, exc, tp.topic, tp.partition, m.offset,
                                        m.key, m.value))
        log.warning("rejected", extra={"topic": tp.topic, "partition": tp.partition,
                                       "offset": m.offset, "reason": exc.reason})

    def _directory_reject(self, exc: InvalidRecord, topic: str, partition: int, offset: int,
                          key: bytes | None, value: bytes | None) -> None:
        """Every instance reads the directory, so each may write the same dead letter;
        its key (topic/partition/offset) lets a reader keep one."""
        self.stats.reject(exc.code)
        rec = dead_letter(self.settings, exc, topic, partition, offset, key, value)
        assert self.side_producer is not None
        self.side_producer.send(rec.topic, key=f"{topic}/{partition}/{offset}".encode(),
                                value=rec.value, headers=rec.headers)
        log.warning("directory record rejected", extra={"partition": partition,
                                                        "offset": offset, "reason": exc.reason})

    # -- checkpoints ------------------------------------------------------------

    def _checkpoint_at(self, deadline: float) -> Checkpoint:
        return Checkpoint(self.settings, self.tasks, deadline, state_key=self.state_key,
                          stats=self.stats, on_action=self.on_action,
                          on_committed=self.task_committed)

    def task_committed(self, task: Task) -> None:
        """Called once a task's checkpoint is final; a hook for those who time commits."""

    def checkpoint(self, partitions: set[int] | None = None, reopen: bool = True) -> None:
        """Checkpoint every task (of ``partitions``) with new work; a task whose checkpoint
        failed is dropped and, with ``reopen``, restored from the changelog."""
        cp = self.next_checkpoint
        if cp.empty(partitions):
            return
        assert self.consumer is not None
        cp.commit(self.consumer, self._commit_transaction if self.exactly_once else None,
                  self.side_producer, self._pool,
                  lambda task, exc: self.assignments.checkpoint_failed(task, exc, reopen),
                  partitions)

    def _commit_transaction(self, task: Task, records: Records, offsets: Offsets,
                            group: Any) -> None:
        """One task's checkpoint in its transaction (``consumers.checkpoint.transact``)."""
        transact(task, records, offsets, group, self._txn_timeout_s)

    # -- rebalances (on the client's network thread) --------------------------------

    def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """The tasks commit their checkpoints, then go."""
        parts = {tp.partition for tp in revoked} & set(self.tasks)
        self.checkpoint(parts, reopen=False)
        for p in parts:
            self.assignments.drop(p)
        log.info("partitions revoked", extra={"partitions": sorted(parts)})

    def on_lost(self, lost: set[TopicPartition]) -> None:
        self.assignments.lost(lost)

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assignments.assigned(assigned)
