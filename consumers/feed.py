"""Simulated CRM traffic on Kafka: the demo's source and docker-compose's optional one.

A simulated world's directory goes to the directory topic, its first days to
the events topic at full speed (history for the baselines), and its last week
at an accelerated clock, as a CRM would send it live.  Records are keyed by
employee id, as the service expects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from consumers.kafka_options import producer_options
from detector.settings import Settings
from detector.simulator import SimConfig
from detector.simulator.writer import stream_world
from detector.wire.times import parse_timestamp

WEEK = 7 * 86400.0
Say = Callable[[str], None]


@dataclass(slots=True)
class SimulatedWorld:
    history: list[bytes]
    live: list[bytes]
    employees: list[bytes]
    labels: dict[str, Any]
    live_from: float

    @property
    def events(self) -> int:
        return len(self.history) + len(self.live)


def simulate(employees: int, history_days: int, seed: int, work: Path) -> SimulatedWorld:
    """History days plus one live week, with insider scenarios in the live part."""
    days = history_days + 7
    config = SimConfig(employees=employees, days=days, seed=seed,
                       warmup_fraction=history_days / days, malformed_rate=0.0005)
    stream_world(config, work)
    events = (work / "events.jsonl").read_bytes().splitlines()
    start_ts = parse_timestamp(config.start.isoformat() + "T00:00:00Z") or 0.0
    live_from = start_ts + history_days * 86400.0
    n_history = sum(1 for raw in events if (key_and_time(raw)[1] or 0.0) < live_from)
    return SimulatedWorld(
        history=events[:n_history], live=events[n_history:],
        employees=(work / "employees.jsonl").read_bytes().splitlines(),
        labels=orjson.loads((work / "labels.json").read_bytes()), live_from=live_from,
    )


def publish(
    settings: Settings,
    world: SimulatedWorld,
    seconds: float,
    stop: threading.Event,
    say: Say,
    after_history: Callable[[int], None] | None = None,
) -> int:
    """Send the directory, the history, then the live week over ``seconds``; returns events sent.

    ``after_history(n)`` runs once the history is flushed (the demo waits there
    for the detector to catch up, so the live week is scored as it comes).
    """
    t = settings.topics
    # Bulk sending: batches over latency.
    producer = KafkaProducer(**{**producer_options(settings.kafka), "linger_ms": 10,
                                "batch_size": 262144})
    sent = 0
    try:
        for raw in world.employees:
            producer.send(t.directory, key=employee_key_of(raw), value=raw)
        producer.flush()
        say(f"loading {len(world.history):,} events of history at full speed ...")
        for raw in world.history:
            if stop.is_set():
                return sent
            producer.send(t.events, key=employee_key_of(raw), value=raw)
            sent += 1
        producer.flush()
        if after_history is not None:
            after_history(sent)
        if stop.is_set():
            return sent
        say(f"streaming the live week ({len(world.live):,} events) in {seconds:.0f} s ...")
        speed = WEEK / seconds
        t0 = time.monotonic()
        for raw in world.live:
            key, ts = key_and_time(raw)
            if ts is not None:
                delay = t0 + (ts - world.live_from) / speed - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            if stop.is_set():
                break
            producer.send(t.events, key=key, value=raw)
            sent += 1
        producer.flush()
    finally:
        producer.close(timeout=10)
    return sent


def key_and_time(raw: bytes) -> tuple[bytes | None, float | None]:
    """The record key an event is produced with (its employee id) and its event time,
    each when it has one: the simulated stream carries some malformed events."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    eid, t = doc.get("employee_id"), doc.get("timestamp")
    return (eid.encode() if isinstance(eid, str) else None,
            parse_timestamp(t) if isinstance(t, str) else None)


def employee_key_of(raw: bytes) -> bytes | None:
    return key_and_time(raw)[0]
