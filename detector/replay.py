"""File replay: the engine over JSON Lines, for embedded use and for evaluation.

Directory records are loaded first and looked up by event time, which is the
same as interleaving them with the events in time order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import orjson

from detector.bundles import partition_engines
from detector.directory import Directory
from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.partitioning import partition_for
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.employees import parse_employee
from detector.wire.events import Event, parse_event
from detector.wire.jsonl import iter_lines


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


Where = TypeVar("Where")


@dataclass(slots=True)
class Rejects:
    """Records refused, in all and by reason code: every driver counts them this way."""

    total: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    def add(self, exc: InvalidRecord) -> None:
        self.total += 1
        self.by_code[exc.code] = self.by_code.get(exc.code, 0) + 1


def run_records(
    engines: Sequence[Engine],
    records: Iterable[tuple[Where, bytes]],
    max_bytes: int,
    rejects: Rejects,
    on_event: Callable[[Event, list[Action]], object] | None = None,
    on_reject: Callable[[Where, InvalidRecord], None] | None = None,
    progress: _Progress | None = None,
) -> int:
    """The one replay loop: parse each record, route it to its engine, process it.

    ``records`` are (where, value) pairs, ``where`` saying where a record came from
    (a line number) for ``on_reject``.  With several engines each employee's events
    go to the engine of the partition Kafka's default partitioner gives their id, as
    in the service.  ``on_event`` sees every event scored with the actions it
    decided.  Returns the number of records read.
    """
    process = engines[0].process
    parts = len(engines)
    n = 0
    for where, raw in records:
        n += 1
        try:
            ev = parse_event(raw, max_bytes=max_bytes)
        except InvalidRecord as exc:
            rejects.add(exc)
            if on_reject is not None:
                on_reject(where, exc)
            continue
        if parts > 1:
            actions = engines[partition_for(ev.employee_id, parts)].process(ev)
        else:
            actions = process(ev)
        if on_event is not None:
            on_event(ev, actions)
        if progress is not None and progress.on and not n & 1023:
            progress.tick(n, sum(sum(e.counters.alerts.values()) for e in engines))
    return n


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
    engines = partition_engines(settings, directory, partitions, clock)
    summary = ReplaySummary()
    bar = _Progress(progress) if progress is not None else None
    dumps = orjson.dumps

    def written(ev: Event, actions: list[Action]) -> None:
        for act in actions:
            write(dumps(act.to_dict()) + b"\n")

    rejects = Rejects()
    started = time.perf_counter()
    run_records(engines, events, settings.input.max_event_bytes, rejects, written, on_reject,
                bar)
    summary.seconds = time.perf_counter() - started
    summary.rejects, summary.reject_reasons = rejects.total, rejects.by_code
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
    "Rejects",
    "ReplaySummary",
    "iter_lines",
    "load_directory",
    "open_binary_out",
    "reject_writer",
    "replay",
    "run_records",
]
