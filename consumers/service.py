"""The streaming service: the engine on Kafka, one task per input partition.

A task owns partition p of the events topic and of the commands topic (they
are co-partitioned and read by one consumer group) and the baselines of the
employees keyed there.  Its checkpoint, every ``service.commit_interval_ms``:

1. produce the actions and dead letters it has decided since the last one;
2. produce the state of every employee it changed, plus its shared state, to
   partition p of the changelog, stamped with the input positions they reflect;
3. commit the input positions;

in exactly-once mode all three in one Kafka transaction of the task's own
transactional producer (``<prefix>-<events topic>-<p>``), which a new owner's
``init_transactions`` fences and whose open transaction it aborts; in
at-least-once mode steps 1-2 are flushed before step 3.  On revoke every task
checkpoints; on loss its state is dropped; on assignment the new owner
restores the state from the changelog before it processes anything.

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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from consumers.bundle_watch import BundleWatch
from consumers.changelog import checkpoint_records, restore
from consumers.directory_feed import DirectoryFeed
from consumers.kafka_options import consumer_options, producer_options
from consumers.metrics import (
    CHECKPOINT_BOUNDS,
    DECISION_BOUNDS,
    LAG_BOUNDS,
    BucketCounts,
)
from consumers.progress import PartitionKey, ProgressWatch, standings
from consumers.provenance import with_provenance
from consumers.records import OutRecord, action_record, dead_letter
from consumers.topics import ensure_topics
from consumers.transactions import (
    abort_transaction,
    close_producer,
    commit_offsets_and_transaction,
)
from detector.audit import ACTION as AUDIT_ACTION
from detector.audit import COMMAND as AUDIT_COMMAND
from detector.audit import AuditLog
from detector.directory import Directory
from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.settings import Settings, SettingsError, read_secret
from detector.wire.actions import Action
from detector.wire.commands import FALSE_POSITIVE, parse_command
from detector.wire.events import parse_event
from detector.wire.times import rfc3339
from models.bundle import BundleError

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

    @property
    def at(self) -> tuple[int, int]:
        return self.events_next, self.commands_next


def _transient(exc: KafkaError) -> bool:
    """Errors a later try can get past (kafka-python marks them): lost connections,
    timeouts, moving leaders."""
    return bool(exc.retriable)


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


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: Service) -> None:
        self.service = service

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.service.on_revoked(revoked)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.on_assigned(assigned)

    def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        self.service.on_lost(lost)


class Service:
    def __init__(
        self,
        settings: Settings,
        on_action: ActionHook | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if settings.scoring.shared_peers:
            # Replay would share peer groups and the service would not: refused,
            # so the two never make different decisions.
            raise SettingsError(
                "scoring.shared_peers: the service does not share peer tables yet; "
                "use it with replay only")
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
        # Current pauses before the next try of a poll or an open that failed.
        self._poll_retry = self._open_retry = RETRY_PAUSE_S
        self._to_open: set[int] = set()
        self._metrics_server: Any = None
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="checkpoint")
        self._looping = False
        self._loaded = False
        self.bundles = BundleWatch(settings) if settings.service.bundle_path else None
        self._next_bundle_check = 0.0
        self.progress = ProgressWatch(settings.service.stall_seconds)

    # -- life cycle ---------------------------------------------------------

    def run(self) -> int:
        """Serve until ``stop_event`` is set; returns the process exit code."""
        s = self.settings
        if s.service.metrics_port:
            from consumers.metrics import serve

            _, self._metrics_server = serve(self, s.service.metrics_port, s.service.metrics_host)
        partitions = ensure_topics(s)[s.topics.events]
        if self.bundles is not None:
            self.bundles.partitions = partitions
            self.bundles.check()
            if self.bundles.refused:  # never start on a bundle that failed its checks
                raise BundleError(f"service.bundle_path = {s.service.bundle_path}: refused "
                                  f"(see the log line before)")
        self.side_producer = KafkaProducer(**producer_options(s.kafka))
        self.feed = DirectoryFeed(s, self.directory, self._directory_reject)
        n = self.feed.catch_up(s.service.directory_load_timeout_s)
        self._loaded = True
        log.info("directory loaded", extra={"records": n, "rejects": self.feed.rejects})
        self.consumer = KafkaConsumer(**consumer_options(s.kafka))
        self.consumer.subscribe([s.topics.events, s.topics.commands],
                                listener=_Rebalance(self))
        log.info("started", extra={"delivery": s.service.delivery,
                                   "group": s.kafka.group_id})
        next_checkpoint = last_checkpoint = time.monotonic()
        busy = 0.0
        self._looping = True
        try:
            while not self.stop_event.is_set():
                self.stats.loop_heartbeat = time.time()
                wait = max(0.0, next_checkpoint - time.monotonic())
                try:
                    self.feed.poll(0)
                    batch = self.consumer.poll(timeout_ms=int(wait * 1000) + 1)
                except KafkaError as exc:
                    if not _transient(exc):
                        raise
                    # A broker or network blip: the client reconnects; positions and
                    # uncommitted work are still in hand.
                    self.stats.poll_errors += 1
                    log.warning("broker unreachable; retrying",
                                extra={"error": repr(exc), "pause_s": self._poll_retry})
                    self.stop_event.wait(self._poll_retry)
                    self._poll_retry = min(2 * self._poll_retry, RETRY_PAUSE_MAX_S)
                    batch = {}
                else:
                    self._poll_retry = RETRY_PAUSE_S
                if batch:
                    # Before opening: records of a partition not yet open are dropped
                    # (its open seeks back to the committed positions).
                    began = time.monotonic()
                    self._handle(batch)
                    took = time.monotonic() - began
                    busy += took
                    self.stats.decision.observe(took)
                if self._to_open:
                    self._open_assigned()
                now = time.monotonic()
                if now >= next_checkpoint:
                    if self.bundles is not None and now >= self._next_bundle_check:
                        self._next_bundle_check = now + s.service.bundle_check_s
                        self._swap_bundle()
                    self._expire_idle(now)
                    self.checkpoint()
                    took = time.monotonic() - now
                    self._gauges()
                    # A steady cadence while the loop keeps up.  When it is saturated
                    # (mostly scoring), checkpoints are spaced so that they take at
                    # most a fifth of its time: latency then gives way to throughput.
                    step = self._interval
                    if busy > SATURATED * (now - last_checkpoint):
                        step = max(step, CHECKPOINT_SHARE * took)
                    if step > self._interval:
                        next_checkpoint = now + step
                    else:
                        next_checkpoint = max(next_checkpoint + step, now)
                    last_checkpoint, busy = now, 0.0
            self.checkpoint()
        except Exception:
            log.exception("stopped by an error; uncommitted work is redone by the next owner")
            raise
        finally:
            self._looping = False
            self.close()
        log.info("stopped", extra={"events": self.stats.events})
        return 0

    def close(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                self.consumer.close(autocommit=False)
            self.consumer = None
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
        self._pool.shutdown(wait=True)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None

    # -- processing -----------------------------------------------------------

    def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        events_topic = self.settings.topics.events
        max_bytes = self.settings.input.max_event_bytes
        horizon = time.time() + self.settings.input.max_future_seconds
        for tp, msgs in batch.items():
            task = self.tasks.get(tp.partition)
            if task is None:  # revoked, or not open yet: read again after the open's seek
                continue
            if tp.topic == events_topic:
                process = task.engine.process
                last_ts = None
                for m in msgs:
                    try:
                        if m.value is None:
                            raise InvalidRecord("$", "is empty", "empty")
                        ev = parse_event(m.value, max_bytes=max_bytes)
                        if ev.ts > horizon:
                            raise InvalidRecord(
                                "timestamp", "is more than input.max_future_seconds ahead of "
                                "the detector's clock", "future_timestamp")
                    except InvalidRecord as exc:
                        self._reject(task, exc, tp, m)
                        continue
                    last_ts = ev.ts
                    for act in process(ev):
                        self._emit(task, act)
                if last_ts is not None:
                    self.stats.event_lag.observe(max(0.0, time.time() - last_ts))
                task.events_next = msgs[-1].offset + 1
                task.last_event_wall = time.monotonic()
                task.idle_credited = 0.0
                self.stats.events += len(msgs)
            else:
                for m in msgs:
                    self._command(task, tp, m)
                task.commands_next = msgs[-1].offset + 1
                self.stats.commands += len(msgs)
            task.changed = True

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
        return self._loaded and self._looping and not self._to_open

    def _swap_bundle(self) -> None:
        """A newly published bundle goes into every task; the next checkpoint records it."""
        assert self.bundles is not None
        if not self.bundles.check():
            return
        for task in self.tasks.values():
            if self.bundles.adopt(task.engine, task.partition) is not None:
                task.changed = True

    def _expire_idle(self, now: float) -> None:
        """Release freezes on partitions that have gone quiet (see idle_expiry_after_s)."""
        after = self.settings.service.idle_expiry_after_s
        for task in self.tasks.values():
            engine = task.engine
            quiet = now - task.last_event_wall
            if quiet < after or engine.incidents.next_expiry == float("inf"):
                continue
            if engine.watermark == float("-inf"):
                continue
            acts = engine.advance(engine.watermark + quiet - task.idle_credited)
            task.idle_credited = quiet
            for act in acts:
                self._emit(task, act)
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
            self._emit(task, act)

    def _emit(self, task: Task, act: Action) -> None:
        task.pending.append(action_record(self.settings, act))
        task.decided.append(act)
        if task.audit is not None:
            task.audit_pending.append((AUDIT_ACTION, act.to_dict(), act.event_time))

    def _reject(self, task: Task, exc: InvalidRecord, tp: TopicPartition, m: Any) -> None:
        self.stats.rejects[exc.code] = self.stats.rejects.get(exc.code, 0) + 1
        if tp.topic == self.settings.topics.events:
            self.stats.event_rejects += 1
        task.pending.append(dead_letter(self.settings, exc, tp.topic, tp.partition, m.offset,
                                        m.key, m.value))
        log.warning("rejected", extra={"topic": tp.topic, "partition": tp.partition,
                                       "offset": m.offset, "reason": exc.reason})

    def _directory_reject(self, exc: InvalidRecord, topic: str, partition: int, offset: int,
                          key: bytes | None, value: bytes | None) -> None:
        """Every instance reads the directory, so each may write the same dead letter;
        its key (topic/partition/offset) lets a reader keep one."""
        self.stats.rejects[exc.code] = self.stats.rejects.get(exc.code, 0) + 1
        rec = dead_letter(self.settings, exc, topic, partition, offset, key, value)
        assert self.side_producer is not None
        self.side_producer.send(rec.topic, key=f"{topic}/{partition}/{offset}".encode(),
                                value=rec.value, headers=rec.headers)
        log.warning("directory record rejected", extra={"partition": partition,
                                                        "offset": offset, "reason": exc.reason})

    # -- checkpoints ------------------------------------------------------------

    def checkpoint(self, partitions: set[int] | None = None, reopen: bool = True) -> None:
        """Checkpoint every task with new work; their transactions commit concurrently.

        State is serialised here, on the loop's thread; only the broker round
        trips (each task's own producer) run in parallel.
        """
        started = time.perf_counter()
        todo = [self.tasks[p] for p in sorted(self.tasks if partitions is None else partitions)
                if p in self.tasks and self.tasks[p].changed]
        if not todo:
            return
        assert self.consumer is not None
        group = self.consumer.group_metadata()
        prepared = [(task, self._prepare(task)) for task in todo]
        if self.exactly_once and len(prepared) > 1:
            futures = [self._pool.submit(self._commit_transaction, task, records, offsets,
                                         group)
                       for task, (records, offsets) in prepared]
            errors = [f.exception() for f in futures]
        else:
            errors = []
            for task, (records, offsets) in prepared:
                try:
                    if self.exactly_once:
                        self._commit_transaction(task, records, offsets, group)
                    else:
                        self._commit_flushed(records, offsets)
                    errors.append(None)
                except KafkaError as exc:
                    errors.append(exc)
        done = 0
        for (task, _), exc in zip(prepared, errors, strict=True):
            p = task.partition
            if exc is None:
                self._committed(task)
                done += 1
            elif isinstance(exc, ProducerFencedError):
                log.warning("fenced: partition taken over", extra={"partition": p})
                self._drop(p)
            elif isinstance(exc, KafkaError):
                log.error("checkpoint failed; state dropped, will restore",
                          extra={"partition": p, "error": repr(exc)})
                # After a timed-out step an abort would time out as well: the next
                # producer with this id aborts the transaction.
                self._drop(p, abort=not isinstance(exc, KafkaTimeoutError))
                if reopen:  # never on the client's network thread (a revoke)
                    self._reassign_one(p)
            else:
                raise exc
        if done:
            self.stats.checkpoints += done
            self.stats.checkpoint_time.observe(time.perf_counter() - started)
            self.stats.last_checkpoint = time.time()

    def _prepare(
        self, task: Task
    ) -> tuple[list[tuple[int | None, OutRecord]], dict[TopicPartition, OffsetAndMetadata]]:
        s = self.settings
        self._audit(task)
        records: list[tuple[int | None, OutRecord]] = [
            (None, r) for r in with_provenance(task.pending, task.partition, task.checkpointed_at,
                                               task.at, task.producer)]
        records += checkpoint_records(s.topics.changelog, task.partition, task.engine, task.at,
                                      self.state_key)
        offsets = {
            TopicPartition(s.topics.events, task.partition):
                OffsetAndMetadata(task.events_next, "", -1),
            TopicPartition(s.topics.commands, task.partition):
                OffsetAndMetadata(task.commands_next, "", -1),
        }
        return records, offsets

    def _audit(self, task: Task) -> None:
        """Chain what the task decided and was told into its trail, durably, before the
        checkpoint commits: every committed action is in the trail (one redone after a
        failed checkpoint may be there twice, with the same action id).  Now and then
        the head is marked and published in the same checkpoint."""
        trail = task.audit
        if trail is None:
            return
        for kind, body, at in task.audit_pending:
            trail.append(kind, body, at)
        task.audit_pending.clear()
        now = time.monotonic()
        if now - task.audit_marked >= self.settings.service.audit_head_every_s:
            task.audit_marked = now
            if trail.head()[0] >= 0:
                now_ts = time.time()
                seq, value = trail.mark_head(now_ts)
                head = {"partition": task.partition, "seq": seq, "hash": value,
                        "at": rfc3339(now_ts)}
                task.pending.append(OutRecord(self.settings.topics.audit_heads,
                                              str(task.partition).encode(),
                                              orjson.dumps(head)))
        trail.flush()

    def _commit_transaction(
        self,
        task: Task,
        records: list[tuple[int | None, OutRecord]],
        offsets: dict[TopicPartition, OffsetAndMetadata],
        group: Any,
    ) -> None:
        producer = task.producer
        assert producer is not None
        producer.begin_transaction()
        for part, r in records:
            producer.send(r.topic, key=r.key, value=r.value, headers=r.headers, partition=part)
        commit_offsets_and_transaction(producer, offsets, group, self._txn_timeout_s)

    def _commit_flushed(
        self,
        records: list[tuple[int | None, OutRecord]],
        offsets: dict[TopicPartition, OffsetAndMetadata],
    ) -> None:
        producer = self.side_producer
        assert producer is not None and self.consumer is not None
        futures = [producer.send(r.topic, key=r.key, value=r.value, headers=r.headers,
                                 partition=part) for part, r in records]
        producer.flush()
        for f in futures:
            f.get(timeout=0)  # raises if the write failed: offsets stay behind
        self.consumer.commit(offsets)

    def _committed(self, task: Task) -> None:
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
        task.changed = False  # last: a reader who sees it also sees the actions reported

    # -- rebalances ---------------------------------------------------------------

    def on_revoked(self, revoked: set[TopicPartition]) -> None:
        parts = {tp.partition for tp in revoked} & set(self.tasks)
        self.checkpoint(parts, reopen=False)
        for p in parts:
            self._drop(p)
        log.info("partitions revoked", extra={"partitions": sorted(parts)})

    def on_lost(self, lost: set[TopicPartition]) -> None:
        parts = {tp.partition for tp in lost} & set(self.tasks)
        for p in parts:
            self._drop(p, abort=True)
        log.warning("partitions lost", extra={"partitions": sorted(parts)})

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Called on the client's network thread, where nothing may block: the new
        partitions are opened by the main loop after this poll (what it reads of them
        before is dropped, and read again after the open's seek)."""
        parts = sorted({tp.partition for tp in assigned} - set(self.tasks))
        self._to_open.update(parts)
        log.info("partitions assigned", extra={"partitions": parts})

    def _open_assigned(self) -> None:
        assert self.consumer is not None
        mine = {tp.partition for tp in self.consumer.assignment()}
        parts = sorted(self._to_open & mine)
        self._to_open.clear()
        if parts:
            try:
                self._open(parts)
            except KafkaError as exc:
                if not _transient(exc):
                    raise
                for q in parts:  # half-opened tasks go; all are opened again next turn
                    self._drop(q, abort=True)
                self._to_open.update(parts)
                log.warning("opening partitions failed; retrying",
                            extra={"partitions": parts, "error": repr(exc),
                                   "pause_s": self._open_retry})
                self.stop_event.wait(self._open_retry)
                self._open_retry = min(2 * self._open_retry, RETRY_PAUSE_MAX_S)
                return
            self._open_retry = RETRY_PAUSE_S

    def _open(self, parts: list[int]) -> None:
        s = self.settings
        assert self.consumer is not None
        producers: dict[int, KafkaProducer | None] = {}
        for p in parts:
            if self.exactly_once:
                # Fences a previous owner of this partition and aborts its open
                # transaction before the committed positions are read below.
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
            else:
                producers[p] = None
        committed = {}
        for p in parts:
            e = self.consumer.committed(TopicPartition(s.topics.events, p))
            c = self.consumer.committed(TopicPartition(s.topics.commands, p))
            committed[p] = (e or 0, c or 0)
        restored = restore(s, parts, committed, self.state_key)
        for p in parts:
            engine = Engine(s, self.directory)
            r = restored[p]
            engine.load_state(r.shared, r.employees)
            task = Task(p, engine, producers[p])
            task.audit = self._open_audit(p)
            if self.bundles is not None and self.bundles.adopt(engine, p) is not None:
                task.changed = True  # the bundle's baselines go into the next checkpoint
            task.events_next, task.commands_next = committed[p]
            task.checkpointed_at = committed[p]
            self.tasks[p] = task
            self.consumer.seek(TopicPartition(s.topics.events, p), committed[p][0])
            self.consumer.seek(TopicPartition(s.topics.commands, p), committed[p][1])
            self.stats.restores += 1
            self.stats.state_entries_read += r.entries_read
            self.stats.state_entries_refused += r.refused
            log.info("state restored", extra={"partition": p, "employees": len(r.employees),
                                              "entries_read": r.entries_read,
                                              "at": list(committed[p])})

    def _open_audit(self, p: int) -> AuditLog | None:
        d = self.settings.service.audit_dir
        if not d:
            return None
        Path(d).mkdir(parents=True, exist_ok=True)
        path = Path(d) / f"{self.settings.topics.events}-{p}.audit.jsonl"
        # A torn last line is a write cut short by a crash: moved aside, kept.
        return AuditLog.open(path, self.audit_key, repair=True)

    def _drop(self, p: int, abort: bool = False) -> None:
        task = self.tasks.pop(p, None)
        if task is not None and task.audit is not None:
            task.audit.close()
        if task is None or task.producer is None:
            return
        if abort:
            # A timed-out abort leaves the transaction to the next producer with this
            # id, whose init_transactions aborts it.
            with contextlib.suppress(Exception):
                abort_transaction(task.producer, self._txn_timeout_s)
        close_producer(task.producer, 5)

    def _reassign_one(self, p: int) -> None:
        """After a failed checkpoint: the partition's state is rebuilt from the changelog
        and its input read again from the committed positions.  Not paused meanwhile
        (see the module's docstring): what is read before the open is dropped."""
        if self.consumer is None:
            return
        self._to_open.add(p)
