"""File replay: the engine over JSON Lines, for embedded use and for evaluation.

Directory records are loaded first and looked up by event time, which is the
same as interleaving them with the events in time order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from detector.directory import Directory
from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.partitioning import partition_for
from detector.settings import Settings
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from detector.wire.jsonl import iter_lines
from models.peer_table import PeerTable


@dataclass(slots=True)
class ReplaySummary:
    events: int = 0
    rejects: int = 0
    directory_records: int = 0
    directory_rejects: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    freezes: int = 0
    releases: int = 0
    seconds: float = 0.0
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "rejects": self.rejects,
            "reject_reasons": self.reject_reasons,
            "directory_records": self.directory_records,
            "directory_rejects": self.directory_rejects,
            "alerts": self.alerts,
            "freezes": self.freezes,
            "releases": self.releases,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
        }

    def text(self) -> str:
        alerts = ", ".join(f"{k} {v}" for k, v in sorted(self.alerts.items())) or "none"
        return (
            f"events {self.events:,} | rejects {self.rejects:,}"
            f" | alerts {sum(self.alerts.values()):,}"
            f" ({alerts}) | freezes {self.freezes:,} | releases {self.releases:,}"
            f" | {self.events_per_second:,.0f} events/s"
        )


def load_directory(
    lines: Iterable[tuple[int, bytes]],
    on_reject: Callable[[int, InvalidRecord], None] | None = None,
    max_bytes: int = 65536,
) -> tuple[Directory, int, int]:
    directory = Directory()
    ok = bad = 0
    for line_no, raw in lines:
        try:
            directory.add(parse_employee(raw, max_bytes=max_bytes))
            ok += 1
        except InvalidRecord as exc:
            bad += 1
            if on_reject is not None:
                on_reject(line_no, exc)
    return directory, ok, bad


class _Progress:
    """A one-line progress display, only when stderr is a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.on = stream.isatty()
        self.started = time.perf_counter()
        self.next = self.started + 0.5

    def tick(self, events: int, alerts: int) -> None:
        now = time.perf_counter()
        if now < self.next:
            return
        self.next = now + 0.5
        rate = events / max(now - self.started, 1e-9)
        self.stream.write(f"\r  {events:>12,} events  {alerts:>7,} alerts  {rate:>10,.0f} events/s")
        self.stream.flush()

    def done(self) -> None:
        if self.on:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def replay(
    settings: Settings,
    events: Iterable[tuple[int, bytes]],
    directory: Directory,
    write: Callable[[bytes], object],
    on_reject: Callable[[int, InvalidRecord], None] | None = None,
    progress: IO[str] | None = None,
    clock: Callable[[], float] = time.time,
    partitions: int = 1,
) -> tuple[ReplaySummary, list[Engine]]:
    """Run every event through the engines; ``write`` gets one JSON line per action.

    With ``partitions`` > 1 each employee's events go to the engine of the
    partition Kafka's default partitioner gives their id, as in the service.
    With ``scoring.shared_peers`` the engines share one peer table, as the
    service's tasks do through its topic: contributions become visible at the
    next day boundary in event time, so the decisions do not depend on
    ``partitions``.
    """
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    sc = settings.scoring
    table = (PeerTable(sc.peer_member_cap, sc.peer_day_decay)
             if sc.shared_peers else None)
    engines = [Engine(settings, directory, clock, table) for _ in range(partitions)]
    engine = engines[0]
    summary = ReplaySummary()
    max_bytes = settings.input.max_event_bytes
    bar = _Progress(progress) if progress is not None else None
    process = engine.process
    dumps = orjson.dumps
    started = time.perf_counter()
    n = 0
    for line_no, raw in events:
        n += 1
        try:
            ev = parse_event(raw, max_bytes=max_bytes)
        except InvalidRecord as exc:
            summary.rejects += 1
            summary.reject_reasons[exc.code] = summary.reject_reasons.get(exc.code, 0) + 1
            if on_reject is not None:
                on_reject(line_no, exc)
            continue
        if partitions > 1:
            actions = engines[partition_for(ev.employee_id, partitions)].process(ev)
        else:
            actions = process(ev)
        if actions:
            for act in actions:
                write(dumps(act.to_dict()) + b"\n")
        if bar is not None and bar.on and not n & 1023:
            bar.tick(n, sum(sum(e.counters.alerts.values()) for e in engines))
    summary.seconds = time.perf_counter() - started
    if bar is not None:
        bar.done()
    for e in engines:
        c = e.counters
        summary.events += c.events
        for sev, k in c.alerts.items():
            summary.alerts[sev] = summary.alerts.get(sev, 0) + k
        summary.freezes += c.freezes
        summary.releases += c.releases
    return summary, engines


def reject_writer(stream: IO[bytes], source: str) -> Callable[[int, InvalidRecord], None]:
    """Rejects as JSON lines: where, which field, what is wrong; never the record itself."""

    def on_reject(line_no: int, exc: InvalidRecord) -> None:
        stream.write(
            orjson.dumps(
                {"source": source, "line": line_no, "code": exc.code, "field": exc.field,
                 "reason": exc.problem}
            )
            + b"\n"
        )

    return on_reject


def open_binary_out(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdout.buffer
    return open(path, "wb")


__all__ = [
    "ReplaySummary",
    "iter_lines",
    "load_directory",
    "open_binary_out",
    "reject_writer",
    "replay",
]
