"""Shared helpers: simulated worlds on disk, replays, machine description."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import orjson

from detector.engine import Engine
from detector.jsonl import iter_lines
from detector.replay import ReplaySummary, load_directory, replay
from detector.settings import Settings
from detector.simulator import SimConfig, stream_world

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "out" / "bench"


def world(employees: int, days: int, seed: int) -> Path:
    """A simulated world on disk, generated once and reused."""
    out = CACHE / f"world-{employees}x{days}-s{seed}"
    if not (out / "labels.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        stream_world(SimConfig(employees=employees, days=days, seed=seed), out)
    return out


def run_replay(
    path: Path, settings: Settings | None = None
) -> tuple[ReplaySummary, Engine, list[dict[str, Any]]]:
    settings = settings or Settings()
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    lines: list[bytes] = []
    summary, engines = replay(settings, iter_lines(str(path / "events.jsonl")), directory,
                              lines.append, clock=lambda: 0.0)
    return summary, engines[0], [orjson.loads(x) for x in lines]


def labels(path: Path) -> dict[str, Any]:
    return orjson.loads((path / "labels.json").read_bytes())  # type: ignore[no-any-return]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {time.strftime('%Y-%m-%d')}"
    )
