"""``python -m benchmarks soak [--minutes 30] [--rate 2000]``: the detector under steady
traffic and scheduled faults, then compared with replay; writes its section of
docs/reliability.md and docs/img/soak.png.

The detector runs as its own process (``insider-detector run --config``,
exactly_once, 3 partitions) behind a fault-injecting proxy, on Tansu with S3
storage (moto), so that a broker restart keeps topics and group offsets.  On a
schedule it is SIGKILLed and started again, the proxy cuts every connection,
and the broker is stopped (SIGINT) and started again.  A sampler reads the
group's committed offsets (lag against the feeder's acknowledged ends) and the
detector's resident memory every couple of seconds.  Everything it starts
dies with it: a watchdog ends the run if it overruns its time budget.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from benchmarks.common import CACHE, ROOT, machine, world
from benchmarks.soak_input import Feeder, looped_events, read_back
from benchmarks.soak_report import DOC, IMG, Fault, Sample, recoveries, rerender, write_report
from consumers.broker import EmbeddedBroker, _stop_with_parent, free_port, s3_server
from consumers.committed_view import account, committed_positions, read_as_served
from consumers.feed import employee_key_of
from consumers.tcp_proxy import Proxy
from consumers.topics import ensure_topics
from detector.replay import load_directory, replay
from detector.settings import KafkaSettings, ServiceSettings, Settings, TopicSettings
from detector.wire.jsonl import iter_lines

PARTITIONS = 3
SAMPLE_S = 2.0
BROKER_DOWN_S = 5.0
WORLD = (300, 28, 9404)  # employees, days, seed: about 513,000 events a loop
# The order faults come in; as many as fit in the run, one every ``interval``.
PATTERN = ("kill", "cut", "kill", "broker", "kill", "cut", "kill", "cut", "kill", "broker",
           "kill", "cut")


def schedule(seconds: float) -> list[tuple[float, str]]:
    """(seconds after the start, kind) for each fault, none in the last half interval."""
    interval = max(25.0, min(150.0, seconds / 12))
    out = []
    for i, kind in enumerate(PATTERN, 1):
        if i * interval > seconds - interval / 2:
            break
        out.append((i * interval, kind))
    return out


def soak_settings(broker: EmbeddedBroker, run: str) -> Settings:
    topics = TopicSettings(
        events=f"{run}.events", directory=f"{run}.directory", commands=f"{run}.commands",
        alerts=f"{run}.alerts", freeze_commands=f"{run}.freeze", dead_letter=f"{run}.dlq",
        changelog=f"{run}.changelog", audit_heads=f"{run}.audit", partitions=PARTITIONS)
    # Tansu's quick group timings; a request the broker restart swallowed is given up in
    # 5 s.  Tansu on S3 answers a fetch empty when reading the batch from S3 takes longer
    # than the fetch's max wait (always, with the default 50 ms, on a loaded machine):
    # a second here; Apache Kafka answers with the data it has at once.
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap, group_id=f"{run}.group",
                          session_timeout_ms=2000, heartbeat_interval_ms=500,
                          request_timeout_ms=5000, fetch_max_wait_ms=1000)
    # A checkpoint a second, not every 50 ms: each transaction is a handful of objects
    # in the test broker's S3 storage, which moto on a shared machine serves slowly.
    service = ServiceSettings(delivery="exactly_once", metrics_port=0, commit_interval_ms=1000,
                              transactional_id_prefix=run, stall_seconds=10.0)
    return Settings(kafka=kafka, topics=topics, service=service)


def write_config(s: Settings, path: Path) -> Path:
    """The settings as the TOML file ``insider-detector run --config`` reads."""
    lines = []
    for section in ("kafka", "topics", "service"):
        lines.append(f"[{section}]")
        obj = getattr(s, section)
        for name in obj.__dataclass_fields__:
            lines.append(f"{name} = {_toml(getattr(obj, name))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(str(value)).decode()


class Detector:
    """The detector process, started again after each kill."""

    def __init__(self, config: Path, log: Path) -> None:
        exe = Path(sys.executable).parent / "insider-detector"
        self.argv = ([str(exe)] if exe.exists() else [sys.executable, "-m", "consumers.cli"])
        self.argv += ["run", "--config", str(config)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(self.argv, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=ROOT,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)},
                                         preexec_fn=_stop_with_parent)
        self.starts += 1

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in 60 s."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def rss_kib(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


class Sampler:
    """Committed offsets, lag and the detector's memory, every ``SAMPLE_S`` seconds."""

    def __init__(self, s: Settings, feeder: Feeder, detector: Detector, t0: float) -> None:
        self.s, self.feeder, self.detector, self.t0 = s, feeder, detector, t0
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def committed(self) -> dict[int, int] | None:
        try:
            if self._consumer is None:
                self._consumer = KafkaConsumer(
                    bootstrap_servers=self.s.kafka.bootstrap_servers,
                    group_id=self.s.kafka.group_id, enable_auto_commit=False,
                    request_timeout_ms=5000)
            return {p: self._consumer.committed(TopicPartition(self.s.topics.events, p),
                                                timeout_ms=3000) or 0
                    for p in range(PARTITIONS)}
        except Exception:  # broker down or a connection cut: no sample this time
            if self._consumer is not None:
                self._consumer.close(autocommit=False)
            self._consumer = None
            return None

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            at = self.committed()
            ends = dict(self.feeder.ends)
            lag = None if at is None else sum(max(0, e - at.get(p, 0)) for p, e in ends.items())
            self.samples.append(Sample(time.monotonic() - self.t0,
                                       None if at is None else sum(at.values()),
                                       sum(ends.values()), lag, self.detector.rss_kib()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)


def _wait(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(1.0)
    return cond()


def soak(minutes: float, rate: float, out: Path) -> dict[str, Any]:
    seconds = minutes * 60
    path = world(*WORLD)
    per_loop = sum(1 for _ in iter_lines(str(path / "events.jsonl")))
    loops = max(1, math.ceil(seconds * rate * 1.05 / per_loop))
    run_dir = CACHE / "soak"
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in ("detector.log", "tansu.log"):
        (run_dir / old).unlink(missing_ok=True)
    run = f"soak{secrets.token_hex(3)}"
    faults: list[Fault] = []
    with s3_server() as env:
        proxy_target = free_port()
        proxy = Proxy(proxy_target)
        broker = EmbeddedBroker(port=proxy_target, advertised_port=proxy.port,
                                log=run_dir / "tansu.log", storage="s3://tansu/",
                                env=env).start()
        detector = Detector(write_config(soak_settings(broker, run), run_dir / "detector.toml"),
                            run_dir / "detector.log")
        feeder: Feeder | None = None
        sampler: Sampler | None = None
        try:
            s = soak_settings(broker, run)
            ensure_topics(s)
            directory_lines = [raw for _, raw in iter_lines(str(path / "employees.jsonl"))]
            _produce_directory(broker.bootstrap, s.topics.directory, directory_lines)
            t0 = time.monotonic()
            detector.start()
            feeder = Feeder(broker.bootstrap, s.topics.events, looped_events(path, loops),
                            rate).start()
            sampler = Sampler(s, feeder, detector, t0).start()
            for at, kind in schedule(seconds):
                while time.monotonic() - t0 < at:
                    _restart_if_dead(detector, faults, t0)
                    time.sleep(0.5)
                faults.append(_inject(kind, detector, proxy, broker, feeder, t0))
            while time.monotonic() - t0 < seconds and not feeder.exhausted:
                _restart_if_dead(detector, faults, t0)
                time.sleep(0.5)
            feeder.stop()
            fed_s = time.monotonic() - t0
            drain_limit = max(120.0, seconds / 12)
            drained = _wait(lambda: _caught_up(sampler), drain_limit)
            drained_s = time.monotonic() - t0
            sampler.stop()
            exit_code = detector.stop()
            result = _compare(s, path, feeder, broker.bootstrap)
        finally:
            if sampler is not None:
                sampler.stop()
            if feeder is not None and not feeder._stop.is_set():
                feeder.stop()
            detector.kill()
            proxy.close()
            broker.stop()
    samples = sampler.samples
    return {
        "minutes": minutes, "rate": rate, "machine": machine(), "partitions": PARTITIONS,
        "world": f"{WORLD[0]} employees x {WORLD[1]} days, seed {WORLD[2]}, "
                 f"{per_loop:,} events a loop",
        "fed_seconds": fed_s, "drained": drained, "drain_seconds": drained_s - fed_s,
        "sent": feeder.sent, "send_errors": feeder.errors, "detector_starts": detector.starts,
        "last_exit_code": exit_code, "faults": recoveries(faults, samples, rate),
        "samples": [s.as_dict() for s in samples], **result,
    }


def _produce_directory(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for raw in lines:
            p.send(topic, key=employee_key_of(raw), value=raw)
        p.flush(60)
    finally:
        p.close(10)


def _caught_up(sampler: Sampler) -> bool:
    at = sampler.committed()
    ends = sampler.feeder.ends
    return at is not None and all(at.get(p, 0) >= e for p, e in ends.items())


def _restart_if_dead(detector: Detector, faults: list[Fault], t0: float) -> None:
    """A detector that exited on its own is a finding: recorded, then started again."""
    if detector.proc is not None and detector.proc.poll() is not None:
        faults.append(Fault(time.monotonic() - t0,
                            f"exited by itself ({detector.proc.returncode})"))
        detector.start()


def _inject(kind: str, detector: Detector, proxy: Proxy, broker: EmbeddedBroker,
            feeder: Feeder, t0: float) -> Fault:
    fault = Fault(time.monotonic() - t0, kind)
    print(f"  {fault.at:7.1f} s  {kind}", file=sys.stderr)
    if kind == "kill":
        detector.kill()
        detector.start()
    elif kind == "cut":
        proxy.reset_all()
    else:  # broker: no send in flight while it is down; the feeder catches up after
        with feeder.hold:
            broker.stop()
            time.sleep(BROKER_DOWN_S)
            broker.start(timeout=60)
    return fault


def _compare(s: Settings, path: Path, feeder: Feeder, bootstrap: str) -> dict[str, Any]:
    """The outputs as a read-committed reader sees them, against replay of the events
    topic as it stands."""
    seen = read_as_served(bootstrap, [s.topics.alerts, s.topics.freeze_commands], quiet=3.0)
    positions = committed_positions(bootstrap, s)
    acc = account(seen, positions)
    # Replay what the group committed: all of the input once it drained, its committed
    # part if it did not (the committed view holds the outputs of exactly that part).
    upto = {p: positions.get(p, (0, 0))[0] for p in feeder.ends}
    got = {a["action_id"]: a for a in acc.committed}
    for a in got.values():
        a.pop("decided_at", None)
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    wanted: list[bytes] = []
    events_in = 0

    def counted() -> Any:
        nonlocal events_in
        for n, raw in read_back(bootstrap, s.topics.events, upto):
            events_in = n
            yield n, raw

    summary, _ = replay(Settings(), counted(), directory, wanted.append, partitions=PARTITIONS)
    want = {}
    for line in wanted:
        a = orjson.loads(line)
        a.pop("decided_at", None)
        want[a["action_id"]] = a
    return {
        "events_in": events_in, "events_scored": summary.events,
        "events_produced": sum(feeder.ends.values()),
        "actions_replay": len(want), "actions_read": acc.records,
        "actions_committed": len(got),
        "lost": len(want.keys() - got.keys()), "unexpected": len(got.keys() - want.keys()),
        "different": sum(1 for k in want.keys() & got.keys() if want[k] != got[k]),
        "duplicates": acc.duplicates, "in_aborted": acc.in_aborted,
        "transactions": len(acc.transactions), "aborted": len(acc.aborted),
        "unexplained": len(acc.unexplained),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks soak")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=2000.0, help="events per second")
    p.add_argument("--out", type=Path, default=DOC)
    p.add_argument("--render", type=Path, metavar="RESULTS",
                   help="only write the report again from a run's saved results "
                        "(out/bench/soak.json)")
    args = p.parse_args(argv)
    if args.render:
        rerender(args.render, args.out, args.out.parent / "img" / IMG)
        return 0
    # Feeding, draining (at most max(2 min, a twelfth of the run)), reading back and
    # replaying: past this the run is stopped and everything it started with it.
    budget = args.minutes * 60 * 1.5 + 1200
    watchdog = threading.Timer(budget, _overrun, args=(budget,))
    watchdog.daemon = True
    watchdog.start()
    results = soak(args.minutes, args.rate, args.out)
    watchdog.cancel()
    (CACHE / "soak.json").write_bytes(orjson.dumps(results))
    write_report(results, args.out, args.out.parent / "img" / IMG)
    print(orjson.dumps({k: v for k, v in results.items() if k != "samples"},
                       option=orjson.OPT_INDENT_2).decode())
    return 0


def _overrun(budget: float) -> None:
    """Its children get SIGINT from the kernel when this process ends (PR_SET_PDEATHSIG)."""
    print(f"soak: over its {budget:.0f} s budget, stopping", file=sys.stderr, flush=True)
    os._exit(3)
