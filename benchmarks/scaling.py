"""Scaling out: events/s of 1, 2 and 4 detector processes in one consumer group.

Each detector is its own OS process (``insider-detector run``, configured by
``INSIDER_*`` variables), as it would be deployed.  The whole input is on the
topic before they start, so the figure is how fast the group drains a
backlog: from the first offset the group commits to the commit of the last.
The group's committed offsets are polled from outside; nothing in the
detectors is instrumented.

The CPU time of every detector process and of the broker is read from
``/proc`` over the same span: on a machine whose cores the broker and the
detectors share, that is what tells a detector-bound run from a CPU-bound one,
and what projects the figures to more cores.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError

from benchmarks.common import (
    ROOT,
    check_deadline,
    employee_key,
    keyed_events,
    produce,
    read_lines,
    world,
)
from benchmarks.stream import SEED
from consumers.broker import EmbeddedBroker
from consumers.topics import ensure_topics
from detector.settings import ENV_PREFIX, KafkaSettings, ServiceSettings, Settings, TopicSettings

PARTITIONS = 8
POLL_S = 0.1
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def scaling(quick: bool) -> dict[str, Any]:
    # The stream benchmark's world (cached): about a million events, which one
    # detector process takes well over 20 s to drain.
    employees, days = (60, 7) if quick else (400, 42)
    counts = (1, 2) if quick else (1, 2, 4)
    timeout = 120.0 if quick else 900.0
    path = world(employees, days, SEED)
    events = keyed_events(path / "events.jsonl")
    directory = [(employee_key(line), line) for line in read_lines(path / "employees.jsonl")]
    runs = []
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="scaling-") as logs:
        base = _settings(broker.bootstrap, "scaling")
        ensure_topics(base)
        produce(broker.bootstrap, base.topics.directory, directory)
        seconds = produce(broker.bootstrap, base.topics.events, events)
        print(f"  produced {len(events):,} events at {len(events) / seconds:,.0f}/s",
              file=sys.stderr)
        assert broker.proc is not None
        for n in counts:
            run = _measure(broker.bootstrap, broker.proc.pid, n, len(events), timeout,
                           Path(logs))
            print(f"  {n} process(es): {run['rate']:,.0f} events/s over {run['seconds']:.1f} s",
                  file=sys.stderr)
            runs.append(run)
    return {
        "world": f"{employees} employees x {days} days, seed {SEED}",
        "events": len(events),
        "partitions": PARTITIONS,
        "cpus": os.cpu_count() or 1,
        "usable_cpus": _usable_cpus(),
        "delivery": base.service.delivery,
        "runs": runs,
    }


def _settings(bootstrap: str, run: str) -> Settings:
    """Shared input topics; per-run group, outputs, changelog and transactional ids, so that
    no run restores or fences another's."""
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, group_id=f"{run}.group",
                            session_timeout_ms=2000, heartbeat_interval_ms=500),
        topics=TopicSettings(partitions=PARTITIONS, alerts=f"{run}.alerts",
                             freeze_commands=f"{run}.freeze", dead_letter=f"{run}.dead-letter",
                             changelog=f"{run}.changelog"),
        service=ServiceSettings(metrics_port=0, transactional_id_prefix=run),
    )


def environment(s: Settings) -> dict[str, str]:
    """The settings that differ from the defaults, as the ``INSIDER_*`` variables that
    ``insider-detector run`` reads."""
    out: dict[str, str] = {}
    for section in ("kafka", "topics", "service"):
        ours = getattr(s, section)
        default = type(ours)()
        for f in dataclasses.fields(ours):
            value = getattr(ours, f.name)
            if value != getattr(default, f.name):
                text = str(value).lower() if isinstance(value, bool) else str(value)
                out[f"{ENV_PREFIX}{section.upper()}__{f.name.upper()}"] = text
    return out


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _command() -> list[str]:
    script = Path(sys.executable).with_name("insider-detector")
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-m", "consumers.cli", "run"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _measure(bootstrap: str, broker_pid: int, n: int, total: int, timeout: float,
             logs: Path) -> dict[str, Any]:
    run = f"scale{n}-{uuid.uuid4().hex[:8]}"
    s = _settings(bootstrap, run)
    ensure_topics(s)  # before the processes, which would otherwise race to create them
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(environment(s))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    paths = [logs / f"{run}-{i}.log" for i in range(n)]
    procs: list[subprocess.Popen[bytes]] = []
    admin: KafkaAdminClient | None = None
    try:
        for log_path in paths:
            with log_path.open("wb") as log:
                procs.append(subprocess.Popen(_command(), env=env, cwd=ROOT, stdout=log,
                                              stderr=subprocess.STDOUT))
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        tps = [TopicPartition(s.topics.events, p) for p in range(PARTITIONS)]
        start = _sample(procs, broker_pid, 0)
        first = last = start
        deadline = time.monotonic() + timeout
        while last.committed < total:
            time.sleep(POLL_S)
            for i, p in enumerate(procs):
                if p.poll() is not None:
                    raise RuntimeError(f"detector {i + 1} of {n} exited with {p.returncode}: "
                                       + _tail(paths[i]))
            check_deadline(deadline, f"{n} detector processes committing {total:,} events")
            try:
                got = admin.list_group_offsets({s.kafka.group_id: tps})[s.kafka.group_id]
            except KafkaError:  # the group is still forming
                continue
            last = _sample(procs, broker_pid, sum(max(o.offset, 0) for o in got.values()))
            if first.committed == 0 and last.committed > 0:
                first = last
    finally:
        if admin is not None:
            admin.close()
        codes = _stop(procs)
    # A run too small to see a commit before the last one is timed from the start.
    from_start = first.committed >= total
    if from_start:
        first = start
    span = last.t - first.t
    lines = [_log(p) for p in paths]
    return {
        "processes": n,
        "rate": (total - first.committed) / span,
        "seconds": span,
        "from_start": from_start,
        "detector_cpu_s": sum(last.cpu) - sum(first.cpu),
        "broker_cpu_s": last.broker_cpu - first.broker_cpu,
        "events_per_process": [sum(x.get("events", 0) for x in log if x.get("msg") == "stopped")
                               for log in lines],
        "restores": sum(x.get("msg") == "state restored" for log in lines for x in log),
        "exit_codes": codes,
    }


@dataclasses.dataclass(slots=True)
class _Sample:
    t: float
    committed: int
    cpu: list[float]
    broker_cpu: float


def _sample(procs: list[subprocess.Popen[bytes]], broker_pid: int, committed: int) -> _Sample:
    return _Sample(time.perf_counter(), committed, [_cpu_seconds(p.pid) for p in procs],
                   _cpu_seconds(broker_pid))


def _stop(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """SIGTERM (each commits what it holds and exits 0); a kill after 30 s."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(30))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


def _log(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of one detector (kafka-python's plain warnings skipped)."""
    out = []
    for line in path.read_bytes().splitlines():
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def render_scaling(sc: dict[str, Any]) -> list[str]:
    runs = sc["runs"]
    one = runs[0]
    lines = [
        "## Scaling out: detector processes in one group", "",
        f"{sc['events']:,} simulated events ({sc['world']}) keyed by employee on a "
        f"topic with {sc['partitions']} partitions on Tansu (in memory, on the same machine), all "
        f"produced before the detectors start. Each detector is its own process "
        f"(`insider-detector run`, {sc['delivery']}), all started together in one consumer "
        "group. The rate runs from the first offset the group commits to the commit of the "
        f"last input offset, read from the group's committed offsets every {POLL_S:g} s. "
        "CPU is the user and system time of the processes over the same span, in cores kept "
        "busy.", "",
        "| detector processes | events/s | speed-up vs 1 | measured over | detectors' CPU "
        "| broker's CPU | events per process | partition restores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        split = " / ".join(f"{e:,}" for e in r["events_per_process"])
        lines.append(
            f"| {r['processes']} | {r['rate']:,.0f} | {r['rate'] / one['rate']:.2f}x | "
            f"{r['seconds']:.1f} s{' *from start*' if r['from_start'] else ''} | "
            f"{r['detector_cpu_s'] / r['seconds']:.2f} cores | "
            f"{r['broker_cpu_s'] / r['seconds']:.2f} cores | {split} | {r['restores']} |")
    lines += ["", *_reading(sc), ""]
    return lines


def _reading(sc: dict[str, Any]) -> list[str]:
    """What the figures say, worded from the figures: no claim they do not support."""
    runs = sc["runs"]
    one = runs[0]
    cpus = sc["usable_cpus"]
    handled = max(one["rate"] * one["seconds"], 1)
    cpu_d, cpu_b = one["detector_cpu_s"] / handled, one["broker_cpu_s"] / handled
    text = [
        f"This machine has {sc['cpus']} CPUs ({cpus} usable here), and the broker, every "
        "detector process and this benchmark share them.",
        f"One process drained {one['rate']:,.0f} events/s and kept "
        f"{one['detector_cpu_s'] / one['seconds']:.2f} cores busy ({1e6 * cpu_d:.1f} µs of "
        f"CPU per event); the broker spent {1e6 * cpu_b:.1f} µs per event.",
    ]
    if one["detector_cpu_s"] < 0.9 * one["seconds"]:
        text.append("Below one core, the process spent part of the run waiting, on the "
                    "broker or for a core.")
    for r in runs[1:]:
        busy = (r["detector_cpu_s"] + r["broker_cpu_s"]) / r["seconds"]
        said = (f"{r['processes']} processes drained {r['rate'] / one['rate']:.2f}x as much, "
                f"with {busy:.2f} of {cpus} cores busy in the detectors and the broker")
        within = [x["rate"] for x in runs if x["processes"] <= cpus]
        if r["processes"] > cpus and within and r["rate"] < 1.05 * max(within):
            said += f", no faster than {cpus}: processes beyond the cores only share them"
        text.append(said + ".")
    text.append(
        "Each partition has its own engine, and partitions share no learned state, only the "
        "directory that every process reads, so the detectors' work divides by partition "
        "without coordination: given a core per process, throughput should grow in step with "
        f"processes until the broker or the partition count ({sc['partitions']} here) "
        "limits it.")
    projected = [n for n in (4, 8) if n <= sc["partitions"]]
    if projected:
        text.append(
            "Projected from the one-process figures, not measured: "
            + "; ".join(f"{n} processes on {n} cores of their own would drain about "
                        f"{n * one['rate']:,.0f} events/s, with the broker needing about "
                        f"{n * one['rate'] * cpu_b:.1f} cores" for n in projected) + ".")
    if any(r["from_start"] for r in runs):
        text.append("A run marked *from start* was too short to see a commit before its last "
                    "one and is timed from the processes' start, startup included.")
    if any(any(c != 0 for c in r["exit_codes"]) for r in runs):
        text.append("Some detector processes did not exit cleanly on SIGTERM: "
                    + "; ".join(f"{r['processes']} processes: {r['exit_codes']}" for r in runs)
                    + ".")
    return [" ".join(text)]
