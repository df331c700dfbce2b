"""Shared helpers: simulated worlds on disk, replays, broker input, machine description,
and the state probe that the state benchmark runs in a fresh process."""

from __future__ import annotations

import gc
import os
import pickle
import platform
import resource
import time
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from detector.engine import Engine
from detector.engine_state import EmployeeState
from detector.replay import ReplaySummary, load_directory, replay
from detector.settings import Settings, load_settings
from detector.simulator import SimConfig, stream_world
from detector.wire.jsonl import iter_lines

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
    # INSIDER_* variables override the defaults (e.g. INSIDER_SCORING__SHARED_PEERS=true),
    # so the same benchmark measures a setting both ways.
    settings = settings or load_settings(None, os.environ)
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    lines: list[bytes] = []
    summary, engines = replay(settings, iter_lines(str(path / "events.jsonl")), directory,
                              lines.append, clock=lambda: 0.0)
    return summary, engines[0], [orjson.loads(x) for x in lines]



def checkpoint_bytes_per_employee(engine: Engine) -> float:
    """What a checkpoint writes per employee: baseline, refused events, verdicts and
    the memory of recent event ids."""
    pickled = sum(len(pickle.dumps(engine.employee_state(e), protocol=5))
                  for e in engine.employees)
    return pickled / max(len(engine.employees), 1)

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


# -- input for a broker -------------------------------------------------------------


def read_lines(path: Path, limit: int | None = None) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\n") for line in islice(f, limit) if line.strip()]


def employee_key(line: bytes) -> bytes:
    return str(orjson.loads(line)["employee_id"]).encode()


def keyed_events(path: Path, n: int | None = None) -> list[tuple[bytes, bytes]]:
    return [(employee_key(line), line) for line in read_lines(path, n)]


def produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> float:
    """Seconds to send and flush every record, keyed as the CRM would key them."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=262144,
                             acks=1)
    try:
        t0 = time.perf_counter()
        for key, value in items:
            producer.send(topic, key=key, value=value)
        producer.flush()
        return time.perf_counter() - t0
    finally:
        producer.close()


def check_deadline(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"benchmark: {what} not done in time")


# -- state held per employee (run in a fresh process) ----------------------------------

CLONE_BATCH = 10_000


def memory_kib() -> tuple[int, int]:
    """(resident now, peak resident) of this process in KiB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: the peak is all there is
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak, peak
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def state_probe(path: Path, fill_to: int = 0) -> dict[str, Any]:
    """Replay one world, then fill the engine to ``fill_to`` employees with clones of
    the ones it learned (none when it holds that many already).

    Run alone in a fresh interpreter, so that the resident memory it reports is
    that of one engine and its directory, not of earlier runs.  A clone is a
    pickle round trip of a learned employee's state, as a restore from a
    checkpoint would build it, under a new id.
    """
    empty, _ = memory_kib()
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    gc.collect()
    with_directory, _ = memory_kib()
    summary, engines = replay(Settings(), iter_lines(str(path / "events.jsonl")), directory,
                              lambda _: None, clock=lambda: 0.0)
    engine = engines[0]
    learned = len(engine.employees)
    if fill_to > learned:
        sources = [pickle.dumps(engine.employee_state(e), protocol=5) for e in engine.employees]
        batch: dict[str, EmployeeState] = {}
        for i in range(fill_to - learned):
            batch[f"X{i:07d}"] = pickle.loads(sources[i % learned])
            if len(batch) == CLONE_BATCH:
                engine.load_state(None, batch)
                batch = {}
        engine.load_state(None, batch)
        del sources, batch
    gc.collect()
    holding, _ = memory_kib()
    held = len(engine.employees)
    per_employee = checkpoint_bytes_per_employee(engine)
    _, peak = memory_kib()
    return {
        "employees": held,
        "learned": learned,
        "events": summary.events,
        "pickled_per_employee": per_employee,
        "empty_rss_mib": empty / 1024,
        "directory_mib": (with_directory - empty) / 1024,
        "rss_mib": holding / 1024,
        "max_rss_mib": peak / 1024,
        "resident_per_employee": 1024 * (holding - with_directory) / max(held, 1),
    }
