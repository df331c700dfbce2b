"""librdkafka on both sides of the detector: an independent client writes the events
and reads the alerts, freezes and releases, while the detector (kafka-python) is
killed with SIGKILL mid-stream and restarted.  A shared library's blind spot
(partitioning, headers, transactions, isolation) would show here.

The reader is librdkafka's read-committed consumer.  On the test broker it also
sees the records of aborted transactions (Tansu sends no aborted-transaction
list), so its view is accounted with committed_view: duplicates only inside
transactions shown aborted, and the committed view equal to replay's actions.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from test_service import _lines, _replay_run, _start, _state_events, _stop, _wait

from consumers.broker import EmbeddedBroker
from consumers.feed import employee_key_of
from consumers.topics import ensure_topics
from detector.settings import Settings
from tests.committed_view import Seen, account
from tests.kafka_kit import paced, service_settings

PARTITIONS = 3
KILLS = 3


def _producer(bootstrap: str) -> Producer:
    # murmur2_random is the Java client's partitioner (and kafka-python's): a key
    # lands on the partition replay --partitions N gives it.
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "enable.idempotence": True, "acks": "all", "linger.ms": 5})


def _send(p: Producer, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    errors: list[str] = []

    def report(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in items:
        while True:
            try:
                p.produce(topic, value=value, key=key, on_delivery=report)
                break
            except BufferError:  # the local queue is full: let it drain
                p.poll(0.1)
    assert p.flush(60) == 0, "librdkafka left records unsent"
    assert not errors, errors[:3]


def _feed(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]], per_second: float,
          done: threading.Event) -> threading.Thread:
    p = _producer(bootstrap)
    return paced(items, per_second, 250, lambda chunk: _send(p, topic, chunk), done)


def _committed(bootstrap: str, s: Settings) -> dict[int, tuple[int, int]]:
    """The group's committed (events, commands) positions, asked through librdkafka."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": s.kafka.group_id,
                  "enable.auto.commit": False})
    try:
        tps = [TopicPartition(t, p) for t in (s.topics.events, s.topics.commands)
               for p in range(PARTITIONS)]
        got = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in c.committed(tps, 30)}
    finally:
        c.close()
    return {p: (got[(s.topics.events, p)], got[(s.topics.commands, p)])
            for p in range(PARTITIONS)}


def _committed_events(bootstrap: str, s: Settings) -> int:
    return sum(e for e, _ in _committed(bootstrap, s).values())


def _seen(m: Message) -> Seen:
    topic, partition, offset = m.topic(), m.partition(), m.offset()
    assert topic is not None and partition is not None and offset is not None
    raw = m.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    return Seen(topic, partition, offset, m.value() or b"",
                {k: v for k, v in items if isinstance(v, bytes)})


def _read_committed(bootstrap: str, topics: list[str], quiet: float = 3.0) -> list[Seen]:
    """Every record of the topics through librdkafka's read-committed consumer, until
    past the reported ends and quiet (Tansu's reported end can fall short)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-reader",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": False})
    try:
        tps = []
        for t in topics:
            meta = c.list_topics(t, timeout=30).topics[t]
            assert meta.error is None, meta.error
            tps += [TopicPartition(t, p, 0) for p in sorted(meta.partitions)]
        c.assign(tps)
        ends = {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=30)[1]
                for tp in tps}
        out: list[Seen] = []
        last = time.monotonic()
        while True:
            msgs = c.consume(500, timeout=0.2)
            for m in msgs:
                if m.error() is not None:
                    raise KafkaException(m.error())
                out.append(_seen(m))
            if msgs:
                last = time.monotonic()
                continue
            positions = {(tp.topic, tp.partition): tp.offset for tp in c.position(tps)}
            if (time.monotonic() - last > quiet
                    and all(positions[k] >= end for k, end in ends.items())):
                return out
    finally:
        c.close()


def test_librdkafka_in_and_out_with_sigkills_matches_replay(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    s = service_settings(broker, partitions=PARTITIONS)
    ensure_topics(s)
    directory = [(employee_key_of(x), x) for x in _lines(small_world / "employees.jsonl")]
    _send(_producer(broker.bootstrap), s.topics.directory,
          [(k, v) for k, v in directory if k is not None])
    events = [x for x in _lines(small_world / "events.jsonl") if employee_key_of(x) is not None]
    keyed = [(k, x) for x in events if (k := employee_key_of(x)) is not None]
    total = len(events)
    rng = random.Random(20261202)
    done = threading.Event()
    feeder = _feed(broker.bootstrap, s.topics.events, keyed, 500.0, done)
    kills: list[int] = []
    for i in range(KILLS):
        proc = _start(s, tmp_path / f"run-{i}.log")
        try:
            before = _committed_events(broker.bootstrap, s)
            _wait(lambda b=before: _committed_events(broker.bootstrap, s) > b,
                  timeout=90, what=f"run {i} to commit")
            time.sleep(rng.uniform(0.0, 1.5))
            assert proc.poll() is None, f"run {i} died on its own"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills.append(_committed_events(broker.bootstrap, s))
    feeder.join(180)
    assert done.is_set()
    last = _start(s, tmp_path / "last.log")
    try:
        _wait(lambda: _committed_events(broker.bootstrap, s) == total, timeout=180,
              what="the last run to commit every event")
        assert _stop(last) == 0
    finally:
        if last.poll() is None:
            last.kill()
    assert len(kills) == KILLS and kills[-1] < total, "every kill came mid-stream"

    seen = _read_committed(broker.bootstrap, [s.topics.alerts, s.topics.freeze_commands])
    acc = account(seen, _committed(broker.bootstrap, s))
    print(f"\nkilled at {kills} of {total:,} events; librdkafka read: {acc.summary()}")
    assert not acc.unexplained, f"not exactly once outside aborted transactions: {acc.summary()}"
    want, scored = _replay_run(small_world, events, PARTITIONS)
    for a in acc.committed:
        a.pop("decided_at", None)
    assert {a["action_id"]: a for a in acc.committed} == {a["action_id"]: a for a in want}
    assert {a["type"] for a in want} >= {"alert", "freeze", "release"}
    assert _state_events(s, PARTITIONS, broker) == scored, "an event lost or counted twice"
