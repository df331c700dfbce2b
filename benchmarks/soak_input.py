"""The soak benchmark's input: a simulated world looped into as many events as the run
needs, fed at a steady rate, and read back for replay.

A loop is the world again with new event ids and its timestamps moved back by
whole weeks, so that weekday and hour patterns hold and the stream stays in
time order: the last loop is the world as simulated, each earlier loop lies
one world span before the next.  Moving back, not forward, keeps every event
in the past, where the service accepts it (``input.max_future_seconds``).
Replay is then fed exactly what the events topic holds, read back partition by
partition, so that whatever the feeder wrote (a retried batch included) is
what both the service and replay saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.feed import employee_key_of
from detector.wire.jsonl import iter_lines

# One flush a second: fewer, larger batches, so fewer objects in S3-backed storage to fetch.
CHUNKS_PER_SECOND = 1


def world_span_days(path: Path) -> int:
    """Days from the first to the last event of a world, rounded up to whole weeks."""
    first = last = None
    for _, raw in iter_lines(str(path / "events.jsonl")):
        try:
            ts = datetime.fromisoformat(orjson.loads(raw)["timestamp"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        first = ts if first is None or ts < first else first
        last = ts if last is None or ts > last else last
    if first is None or last is None:
        raise ValueError(f"{path}: no event with a readable timestamp")
    days = (last - first).days + 1
    return 7 * -(-days // 7)


def _moved(raw: bytes, loop: int, back: timedelta) -> bytes:
    """One event of loop ``loop``: a new event id, its timestamp ``back`` earlier.
    A malformed line is sent as it is, for both the service and replay to refuse."""
    try:
        event = orjson.loads(raw)
        ts = datetime.fromisoformat(event["timestamp"])
        event_id = event["event_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return raw
    if not isinstance(event, dict) or not isinstance(event_id, str):
        return raw
    if back:
        stamp = (ts - back).isoformat()
        if event["timestamp"].endswith("Z") and stamp.endswith("+00:00"):
            stamp = stamp[:-6] + "Z"
        event["timestamp"] = stamp
    event["event_id"] = f"{event_id}.l{loop}"
    return orjson.dumps(event)


def looped_events(path: Path, loops: int) -> Iterator[tuple[bytes | None, bytes]]:
    """The world's events ``loops`` times over, keyed by employee as the CRM keys them."""
    span = timedelta(days=world_span_days(path))
    for loop in range(loops):
        back = span * (loops - 1 - loop)
        for _, raw in iter_lines(str(path / "events.jsonl")):
            value = _moved(raw, loop, back)
            yield employee_key_of(value), value


class Feeder:
    """Sends events at a steady rate on a thread of its own until told to stop.

    ``hold`` is held while a chunk is sent and flushed: whoever takes it (the
    broker restart) knows no send is in flight, and the feeder waits meanwhile,
    as a CRM that buffers does; it then sends what it owes at once.
    """

    def __init__(self, bootstrap: str, topic: str, events: Iterator[tuple[bytes | None, bytes]],
                 rate: float) -> None:
        self.topic = topic
        self.rate = rate
        self.events = events
        self.hold = threading.Lock()
        self.ends: dict[int, int] = {}  # partition -> offset after the last acknowledged
        self.sent = 0
        self.errors = 0
        self.exhausted = False
        self._stop = threading.Event()
        # Large batches: Tansu's S3 storage keeps a batch an object, and serves about
        # one object per fetch and partition.
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=100, acks="all",
                                       batch_size=1024 * 1024, retries=20,
                                       max_in_flight_requests_per_connection=1,
                                       request_timeout_ms=10000)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def _acked(self, md: object) -> None:
        p, off = md.partition, md.offset  # type: ignore[attr-defined]
        self.ends[p] = max(self.ends.get(p, 0), off + 1)

    def _failed(self, _: BaseException) -> None:
        self.errors += 1

    def _run(self) -> None:
        step = max(1, round(self.rate / CHUNKS_PER_SECOND))
        t0 = time.monotonic()
        while not self._stop.is_set():
            with self.hold:
                for _ in range(step):
                    item = next(self.events, None)
                    if item is None:
                        self.exhausted = True
                        break
                    fut = self._producer.send(self.topic, key=item[0], value=item[1])
                    fut.add_callback(self._acked)
                    fut.add_errback(self._failed)
                    self.sent += 1
                self._producer.flush()
            if self.exhausted:
                return
            pause = t0 + self.sent / self.rate - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)

    def stop(self) -> None:
        """Stop sending; every record sent is acknowledged or counted failed."""
        self._stop.set()
        self._thread.join(60)
        self._producer.flush(60)
        self._producer.close(10)


def read_back(bootstrap: str, topic: str, ends: dict[int, int]) -> Iterator[tuple[int, bytes]]:
    """Every record of the events topic, partition after partition, numbered from 1.

    Replay keeps an engine per partition and an employee's events on one
    partition, so reading one partition after another gives each engine its
    events in the order the service read them.
    """
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      fetch_max_wait_ms=1000, max_partition_fetch_bytes=16 * 1024 * 1024)
    n = 0
    try:
        for p in sorted(ends):
            tp = TopicPartition(topic, p)
            c.assign([tp])
            c.seek_to_beginning(tp)
            while c.position(tp) < ends[p]:
                for msgs in c.poll(timeout_ms=500).values():
                    for m in msgs:
                        if m.offset < ends[p] and m.value is not None:
                            n += 1
                            yield n, m.value
    finally:
        c.close()
