"""Streaming through a real Kafka-protocol broker: what one detector process keeps up with.

Three figures from one run against Tansu (in memory, on this machine):

* the raw consume rate of a plain kafka-python consumer with the service's own
  fetch options, the ceiling the detector's consumer cannot beat;
* the end-to-end rate of one ``consumers.service.Service`` reading the same
  topic in a fresh group, from its first processed batch to the checkpoint
  that commits the last event (startup reported apart);
* produce-to-commit latency at a steady rate: from ``producer.send`` of an
  event to the commit of the first checkpoint whose position covers its
  offset, which is when its actions become visible to read-committed readers.

Tansu can answer an end-offset request with less than the true end, so reads
count messages instead of trusting end offsets.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks.common import (
    check_deadline,
    employee_key,
    keyed_events,
    produce,
    read_lines,
    world,
)
from consumers.broker import EmbeddedBroker
from consumers.kafka_options import consumer_options
from consumers.service import Service
from consumers.topics import ensure_topics
from detector.settings import KafkaSettings, ServiceSettings, Settings, TopicSettings

SEED = 4242
PARTITIONS = 3
RATE = 2000.0


def stream_input(quick: bool) -> tuple[int, int, Path, int]:
    """(employees, days, world, events read): the input, shared with the speed report."""
    employees, days = (60, 7) if quick else (400, 42)
    return employees, days, world(employees, days, SEED), 5_000 if quick else 300_000


def stream(quick: bool) -> dict[str, Any]:
    employees, days, path, n = stream_input(quick)
    seconds = 2.0 if quick else 20.0
    events = keyed_events(path / "events.jsonl", n)
    templates = _templates(path / "events.jsonl", n, int(RATE * seconds))
    directory = [(employee_key(line), line) for line in read_lines(path / "employees.jsonl")]
    timeout = 120.0 if quick else 900.0

    with EmbeddedBroker() as broker:
        settings = Settings(
            kafka=KafkaSettings(bootstrap_servers=broker.bootstrap, session_timeout_ms=2000,
                                heartbeat_interval_ms=500,
                                group_id=f"bench-{uuid.uuid4().hex[:12]}"),
            topics=TopicSettings(partitions=PARTITIONS),
            service=ServiceSettings(metrics_port=0),
        )
        ensure_topics(settings)
        produce(broker.bootstrap, settings.topics.directory, directory)
        produce_rate = len(events) / produce(broker.bootstrap, settings.topics.events, events)
        print(f"  produced {len(events):,} events at {produce_rate:,.0f}/s", file=sys.stderr)

        raw = _raw_consume(settings, len(events), timeout)
        print(f"  raw consume {raw:,.0f} events/s", file=sys.stderr)

        svc = _TimedService(settings)
        runner = _Runner(svc)
        try:
            e2e = _end_to_end(svc, runner, len(events), timeout)
            print(f"  end to end {e2e['rate']:,.0f} events/s "
                  f"(startup {e2e['startup_s']:.1f} s)", file=sys.stderr)
            latency = _latency(svc, runner, broker.bootstrap, templates, seconds, timeout)
            print(f"  latency p99 {latency['p99_ms']:.0f} ms at "
                  f"{latency['achieved_rate']:,.0f} events/s", file=sys.stderr)
        finally:
            svc.stop_event.set()
            if runner.is_alive():
                runner.join(30)
        if runner.error is not None:
            raise RuntimeError("the detector service failed") from runner.error

    return {
        "world": f"{employees} employees x {days} days, seed {SEED}",
        "events": len(events),
        "partitions": PARTITIONS,
        "delivery": settings.service.delivery,
        "commit_interval_ms": settings.service.commit_interval_ms,
        "produce_rate": produce_rate,
        "raw": raw,
        "e2e": e2e["rate"],
        "ratio": e2e["rate"] / raw,
        "e2e_total": e2e["total_rate"],
        "startup_s": e2e["startup_s"],
        "latency": latency,
    }


# -- inputs -------------------------------------------------------------------------


def _templates(path: Path, skip: int, want: int) -> list[dict[str, Any]]:
    """Events for the latency load: the ones after the throughput run's, else any."""
    lines = read_lines(path, skip + want)
    picked = lines[skip:] or lines
    return [orjson.loads(line) for line in picked]


# -- broker I/O -----------------------------------------------------------------------


def _raw_consume(settings: Settings, n: int, timeout: float) -> float:
    """Events/s of a group-less consumer from its first records until it has all n."""
    consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
    try:
        topic = settings.topics.events
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        count = 0
        while count == 0:
            count = sum(len(m) for m in consumer.poll(timeout_ms=200).values())
            check_deadline(deadline, "raw consume: first records")
        t0, first = time.perf_counter(), count
        while count < n:
            count += sum(len(m) for m in consumer.poll(timeout_ms=200).values())
            check_deadline(deadline, f"raw consume: {count:,} of {n:,} records")
        return (count - first) / (time.perf_counter() - t0)
    finally:
        consumer.close()


# -- the service ------------------------------------------------------------------------


class _TimedService(Service):
    """The service, noting when each checkpoint committed, the events handled by
    then and each partition's committed events position."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.commits: list[tuple[float, int, dict[int, int]]] = []
        self._positions: dict[int, int] = {}

    def task_committed(self, task: Any) -> None:
        super().task_committed(task)
        self._positions[task.partition] = task.events_next
        # Committed events positions summed: the events handled and committed so far.
        self.commits.append((time.perf_counter(), sum(self._positions.values()),
                             {task.partition: task.events_next}))


class _Runner(threading.Thread):
    def __init__(self, svc: Service) -> None:
        super().__init__(name="detector", daemon=True)
        self.svc = svc
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.svc.run()
        except BaseException as exc:
            self.error = exc


def _end_to_end(svc: _TimedService, runner: _Runner, n: int,
                timeout: float) -> dict[str, float]:
    """Rate from the first processed batch to the commit covering the n-th event,
    so the directory load, group join and restore are reported apart."""
    started = time.perf_counter()
    runner.start()
    deadline = time.monotonic() + timeout
    while svc.stats.events == 0:
        _check_service(runner, deadline, "waiting for the first events")
        time.sleep(0.001)
    first_at, first = time.perf_counter(), svc.stats.events
    done = None
    while done is None:
        done = next((t for t, handled, _ in list(svc.commits) if handled >= n), None)
        _check_service(runner, deadline, f"processing {n:,} events")
        time.sleep(0.02)
    return {
        "rate": (n - first) / (done - first_at),
        "total_rate": n / (done - started),
        "startup_s": first_at - started,
    }


def _latency(svc: _TimedService, runner: _Runner, bootstrap: str,
             templates: list[dict[str, Any]], seconds: float,
             timeout: float) -> dict[str, float]:
    topic = svc.settings.topics.events
    total = int(RATE * seconds)
    sent: list[tuple[float, Any]] = []
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    try:
        pacer = threading.Thread(target=_paced, name="paced-producer",
                                 args=(producer, topic, templates, total, sent))
        pacer.start()
        pacer.join()
        producer.flush()
        placed = [(t, f.get(timeout=30)) for t, f in sent]
    finally:
        producer.close()
    wanted: dict[int, int] = {}
    for _, md in placed:
        wanted[md.partition] = max(wanted.get(md.partition, -1), md.offset)
    deadline = time.monotonic() + timeout
    while not _covered(svc.commits, wanted):
        _check_service(runner, deadline, "committing the latency load")
        time.sleep(0.02)

    commits = list(svc.commits)
    by_part: dict[int, list[tuple[int, float]]] = {}
    for t, md in placed:
        by_part.setdefault(md.partition, []).append((md.offset, t))
    latencies: list[float] = []
    for p, items in by_part.items():
        items.sort()
        j = 0
        for offset, t_sent in items:
            while j < len(commits) and commits[j][2].get(p, -1) <= offset:
                j += 1
            latencies.append(commits[j][0] - t_sent)
    latencies.sort()
    span = placed[-1][0] - placed[0][0]
    return {
        "target_rate": RATE,
        "achieved_rate": (len(placed) - 1) / span if span > 0 else 0.0,
        "seconds": span,
        "events": len(placed),
        "p50_ms": 1000 * _pct(latencies, 0.50),
        "p95_ms": 1000 * _pct(latencies, 0.95),
        "p99_ms": 1000 * _pct(latencies, 0.99),
        "max_ms": 1000 * latencies[-1],
    }


def _paced(producer: KafkaProducer, topic: str, templates: list[dict[str, Any]],
           total: int, sent: list[tuple[float, Any]]) -> None:
    """Sends at RATE on a fixed schedule; when behind, catches up at once instead of
    drifting, so the achieved rate is the one asked for unless the machine cannot."""
    run = uuid.uuid4().hex[:8]
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ev = dict(templates[i % len(templates)])
        ev["event_id"] = f"ev-lat-{run}-{i:08d}"
        ev["timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        value = orjson.dumps(ev)
        t = time.perf_counter()
        sent.append((t, producer.send(topic, key=str(ev["employee_id"]).encode(),
                                      value=value)))


def _covered(commits: list[tuple[float, int, dict[int, int]]], wanted: dict[int, int]) -> bool:
    reached: dict[int, int] = {}
    for _, _, at in list(commits):
        for p, nxt in at.items():
            reached[p] = max(reached.get(p, 0), nxt)
    return all(reached.get(p, 0) > off for p, off in wanted.items())


# -- helpers ----------------------------------------------------------------------------


def _pct(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _check_service(runner: _Runner, deadline: float, what: str) -> None:
    if runner.error is not None:
        raise RuntimeError(f"the detector service failed while {what}") from runner.error
    if not runner.is_alive():
        raise RuntimeError(f"the detector service stopped while {what}")
    check_deadline(deadline, what)
