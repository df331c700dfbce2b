"""Writing worlds to disk: events.jsonl, employees.jsonl and labels.json."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from detector.simulator.config import SimConfig
from detector.simulator.world import Generation, World

EVENTS, EMPLOYEES, LABELS = "events.jsonl", "employees.jsonl", "labels.json"


@dataclass(frozen=True)
class Summary:
    events: int
    employees: int
    directory_records: int
    scenarios: int
    benign: int
    malformed: int

    def text(self) -> str:
        return (f"{self.events:,} events, {self.employees:,} employees "
                f"({self.directory_records:,} directory records), {self.scenarios} scenarios, "
                f"{self.benign} benign cases, {self.malformed} malformed")


def _write_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("wb") as fh:
        for rec in records:
            fh.write(orjson.dumps(rec))
            fh.write(b"\n")


def _write_labels(path: Path, labels: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(labels, option=orjson.OPT_INDENT_2) + b"\n")


def _summary(labels: dict[str, Any], events: int, records: int) -> Summary:
    return Summary(events, int(labels["employees"]), records, len(labels["scenarios"]),
                   len(labels["benign"]), len(labels["malformed"]))


def write_world(world: World, out_dir: str | Path) -> Summary:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_lines(out / EVENTS, world.events)
    _write_lines(out / EMPLOYEES, world.employees)
    _write_labels(out / LABELS, world.labels)
    return _summary(world.labels, len(world.events), len(world.employees))


def stream_world(config: SimConfig, out_dir: str | Path) -> Summary:
    """Same bytes as ``write_world(simulate(config))``, holding about a day of drafts at a time."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = Generation(config)
    _write_lines(out / EMPLOYEES, gen.employees)
    records = len(gen.employees)
    gen.employees = []
    with (out / EVENTS).open("wb") as fh:
        for block in gen.encoded():
            fh.write(block)
    labels = gen.labels()
    _write_labels(out / LABELS, labels)
    return _summary(labels, gen.events_written, records)
