"""A partition dropped and read again (a failed checkpoint, a lost partition) is read
to its end, every event of it scored and committed once; a partition that stops
moving while input waits fails /healthz.

The faults are injected by subclasses of the service that override one step;
the broker is the real test broker."""

from __future__ import annotations

import dataclasses
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaConnectionError
from kafka.structs import OffsetAndMetadata
from test_service import (
    _by_id,
    _finished,
    _keyed,
    _prepared_with,
    _published,
    _replay_run,
    _state_events,
    _wait,
    running,
)

from consumers.broker import EmbeddedBroker, free_port
from consumers.service import Service
from consumers.task import Task
from consumers.topics import ensure_topics
from detector.settings import Settings
from tests.kafka_kit import produce, service_settings

PARTITIONS = 3


def test_a_partition_read_again_from_an_earlier_offset_returns_all_its_records(
    broker: EmbeddedBroker,
) -> None:
    """The client sequence the service uses when it drops a partition's task and opens it
    again: no pause; what a poll returns meanwhile is dropped; the open seeks back.

    (kafka-python 3.0.12 parks records fetched but not yet returned when a partition
    is paused, and hands them back only while its in-line slot is empty, which it is
    not after a drain: pause, seek to 0 and resume here returned none of the
    partition's records in 15 s.)"""
    s = service_settings(broker, partitions=2)
    ensure_topics(s)
    topic, per_partition = s.topics.events, 3000
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    for p in (0, 1):
        for i in range(per_partition):
            producer.send(topic, value=b"%d:%06d" % (p, i) + b"." * 60, partition=p)
    producer.flush()
    producer.close()
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                      max_poll_records=500, fetch_max_wait_ms=50)
    try:
        tps = [TopicPartition(topic, p) for p in (0, 1)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        first: list[int] = []
        deadline = time.monotonic() + 60
        while len(first) < 500:
            assert time.monotonic() < deadline, "the first records never came"
            first += [m.offset for m in c.poll(timeout_ms=200).get(tps[0], [])]
        assert first == list(range(len(first))) and len(first) < per_partition
        c.poll(timeout_ms=200)  # a turn while the partition has no task: dropped
        c.seek(tps[0], 0)
        again: list[int] = []
        other: list[int] = []
        deadline = time.monotonic() + 60
        while len(again) < per_partition or len(other) < per_partition:
            assert time.monotonic() < deadline, (len(again), len(other))
            batch = c.poll(timeout_ms=200)
            again += [m.offset for m in batch.get(tps[0], [])]
            other += [m.offset for m in batch.get(tps[1], [])]
        assert again == list(range(per_partition))
    finally:
        c.close()


def _events_world(broker: EmbeddedBroker, small_world: Any, **service: object
                  ) -> tuple[Settings, list[bytes]]:
    """Fresh topics with the world's directory; polls of at most 500 records, so that
    a fetch of a partition is returned over several polls (the case that starved)."""
    s = service_settings(broker, partitions=PARTITIONS, **service)
    s = dataclasses.replace(s, kafka=dataclasses.replace(s.kafka, max_poll_records=500))
    return _prepared_with(s, broker, small_world)


def _outputs_match_replay(broker: EmbeddedBroker, s: Settings, small_world: Any,
                          events: list[bytes]) -> None:
    got = _published(broker, s)
    ids = [a["action_id"] for a in got]
    assert len(ids) == len(set(ids)), "an action is visible twice to a read-committed reader"
    want, scored = _replay_run(small_world, events, PARTITIONS)
    assert _by_id(got) == _by_id(want)
    assert _state_events(s, PARTITIONS, broker) == scored, "an event lost or counted twice"


class _CheckpointFailsOnce(Service):
    """The checkpoint of one partition fails once mid-stream, after its transaction's
    records were written (so they are aborted with it).  The partition is the one a
    poll returned last: the client most likely holds more of its records."""

    def __init__(self, settings: Settings, after: int) -> None:
        super().__init__(settings)
        self.after = after
        self.returned_last = -1
        self.failed_at: list[tuple[int, int]] = []

    def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        events = [tp.partition for tp in batch if tp.topic == self.settings.topics.events]
        if events:
            self.returned_last = events[-1]
        super()._handle(batch)

    def _commit_transaction(
        self, task: Task, records: list[tuple[int | None, Any]],
        offsets: dict[TopicPartition, OffsetAndMetadata], group: Any,
    ) -> None:
        if (not self.failed_at and task.partition == self.returned_last
                and task.events_next >= self.after):
            self.failed_at.append((task.partition, task.events_next))
            producer = task.producer
            assert producer is not None
            producer.begin_transaction()
            for part, r in records:
                producer.send(r.topic, key=r.key, value=r.value, headers=r.headers,
                              partition=part)
            producer.flush()
            raise KafkaConnectionError("injected: the connection was lost before the commit")
        super()._commit_transaction(task, records, offsets, group)


def test_after_a_failed_checkpoint_the_partition_is_read_to_its_end_once(
    broker: EmbeddedBroker, small_world: Any
) -> None:
    s, events = _events_world(broker, small_world)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    svc = _CheckpointFailsOnce(s, after=500)
    with running(s, svc):
        _finished(svc, s, ends, timeout=180)
        assert svc.consumer is not None and not svc.consumer.paused()
        assert not svc.stats.stalled
        restores = svc.stats.restores
    print(f"\ncheckpoint failed once (partition, offset): {svc.failed_at}; ends {ends}")
    assert len(svc.failed_at) == 1
    victim, at = svc.failed_at[0]
    assert at < ends[victim], "the failure came mid-stream"
    assert restores == PARTITIONS + 1, "the failed partition was restored once more"
    _outputs_match_replay(broker, s, small_world, events)


class _LoopStallsOnce(Service):
    """The loop stops polling once, longer than kafka.max_poll_interval_ms: the client
    leaves the group and its partitions are lost, then assigned again."""

    def __init__(self, settings: Settings, after: int) -> None:
        super().__init__(settings)
        self.after = after
        self.stalled_once = False
        self.lost: list[set[int]] = []

    def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        super()._handle(batch)
        if not self.stalled_once and any(t.events_next >= self.after
                                         for t in self.tasks.values()):
            self.stalled_once = True
            time.sleep(self.settings.kafka.max_poll_interval_ms / 1000 + 2.0)

    def on_lost(self, lost: set[TopicPartition]) -> None:
        self.lost.append({tp.partition for tp in lost})
        super().on_lost(lost)


def test_after_a_lost_partition_every_event_is_scored_and_committed_once(
    broker: EmbeddedBroker, small_world: Any
) -> None:
    s, events = _events_world(broker, small_world)
    s = dataclasses.replace(s, kafka=dataclasses.replace(s.kafka, max_poll_interval_ms=3000))
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    svc = _LoopStallsOnce(s, after=500)
    with running(s, svc):
        _finished(svc, s, ends, timeout=180)
        assert not svc.stats.stalled
    print(f"\npartitions lost: {svc.lost}")
    assert svc.stalled_once and svc.lost and set().union(*svc.lost) == set(range(PARTITIONS))
    _outputs_match_replay(broker, s, small_world, events)


class _OnePartitionHeld(Service):
    """Events partition 1 makes no progress until ``release`` is set: what a poll returns
    of it is held back and the client sought back to where its task stands."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.release = threading.Event()

    def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        held = TopicPartition(self.settings.topics.events, 1)
        task = self.tasks.get(1)
        if not self.release.is_set() and held in batch and task is not None:
            assert self.consumer is not None
            batch = {tp: msgs for tp, msgs in batch.items() if tp != held}
            self.consumer.seek(held, task.events_next)
        super()._handle(batch)


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_a_partition_that_stops_moving_with_input_waiting_fails_healthz(
    broker: EmbeddedBroker, small_world: Any
) -> None:
    port = free_port()
    s, events = _events_world(broker, small_world, stall_seconds=2.0, metrics_port=port,
                              metrics_host="127.0.0.1")
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    svc = _OnePartitionHeld(s)
    with running(s, svc):
        _wait(lambda: svc.stats.stalled == {("events", 1)}, what="partition 1 stalled")
        status, _ = _get(port, "/healthz")
        assert status == 503
        _, text = _get(port, "/metrics")
        gauges = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                  for line in text.splitlines() if line.startswith("insider_partition_stalled{")}
        assert gauges['insider_partition_stalled{input="events",partition="1"}'] == 1
        assert gauges['insider_partition_stalled{input="events",partition="0"}'] == 0
        assert gauges['insider_partition_stalled{input="commands",partition="1"}'] == 0
        assert svc.ready(), "every partition is open: only the watchdog sees the stall"
        svc.release.set()
        _finished(svc, s, ends)
        _wait(lambda: not svc.stats.stalled and _get(port, "/healthz")[0] == 200,
              what="healthz to recover")
