"""Load against a real broker: a burst written while the detector is down, over
twice what it has seen so far, is drained with nothing dropped and memory flat; a
flood of redelivered events changes nothing.

The backlog is made by stopping the detector, not by out-producing it, so the
test does not depend on how fast this machine produces or scores."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

from test_service import (
    _by_id,
    _feed,
    _finished,
    _keyed,
    _prepared,
    _published,
    _replay_run,
    _state_events,
    _wait,
    running,
)

from consumers.broker import EmbeddedBroker
from detector.errors import InvalidRecord
from detector.wire.events import parse_event
from tests.kafka_kit import add_ends, committed_offsets, produce


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STEADY_PER_S = 500.0


def test_a_burst_written_while_the_detector_is_down_drains_and_drops_nothing(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    partitions = 3
    s, events = _prepared(broker, small_world, partitions)
    steady, burst = events[: len(events) // 3], events[len(events) // 3:]
    ends: dict[int, int] = {}
    with running(s) as svc:
        done = threading.Event()
        _feed(broker, s.topics.events, _keyed(steady), STEADY_PER_S, done, ends).join(120)
        assert done.is_set()
        _finished(svc, s, ends)
    # The detector is down: the whole burst waits for it.
    steady_ends = dict(ends)
    add_ends(ends, produce(broker.bootstrap, s.topics.events, _keyed(burst)))
    at_start = committed_offsets(broker.bootstrap, s.kafka.group_id, s.topics.events)
    backlog = {p: ends[p] - at_start.get(p, 0) for p in range(partitions)}
    assert at_start == steady_ends
    assert sum(backlog.values()) == len(burst) > 2 * len(steady)
    rss_before = _rss_mib()
    lags: list[int] = []
    stop = threading.Event()
    with running(s) as svc:

        def watch() -> None:  # the detector's own lag gauge, for the figures printed
            while not stop.is_set():
                lags.append(sum(svc.stats.lag.values()))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _finished(svc, s, ends, timeout=180)
        # Drained as the detector itself sees it: every partition's lag gauge at 0.
        _wait(lambda: len(svc.stats.lag) == partitions and not any(svc.stats.lag.values()),
              what="the lag gauges to read 0")
        stop.set()
        watcher.join(5)
        rss_growth = _rss_mib() - rss_before
        assert not svc.stats.stalled
    print(f"\nburst: {len(burst):,} events written while the detector was down, after "
          f"{len(steady):,} at {STEADY_PER_S:,.0f}/s; backlog per partition {backlog}; "
          f"lag gauge peaked at {max(lags, default=0):,}; RSS grew {rss_growth:.0f} MiB")
    assert rss_growth < 150, f"memory grew {rss_growth:.0f} MiB while draining the burst"
    want, scored = _replay_run(small_world, events, partitions)
    assert _by_id(_published(broker, s)) == _by_id(want)
    assert _state_events(s, partitions, broker) == scored, "an event lost or counted twice"


def test_a_flood_of_redelivered_events_changes_nothing(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s, events = _prepared(broker, small_world, 2)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    with running(s) as svc:
        _finished(svc, s, ends)
        first = _by_id(_published(broker, s))
        # The last 40 events of every employee, sent again three times.
        by_emp: dict[bytes, list[bytes]] = {}
        for k, v in _keyed(events):
            by_emp.setdefault(k or b"", []).append(v or b"")
        again = [(k, v) for k, vs in by_emp.items() for v in vs[-40:]] * 3
        add_ends(ends, produce(broker.bootstrap, s.topics.events, again))
        _finished(svc, s, ends)
        valid = sum(1 for _, v in again if _parses(v))

        def duplicates() -> int:
            return sum(n for (_, o), n in svc.stats.outcomes.items() if o == "duplicate")

        # The outcome counts are taken on the loop turn after the last checkpoint.
        _wait(lambda: duplicates() >= valid, what="the duplicates counted")
        dup = duplicates()
    assert dup == valid > 0.99 * len(again)
    assert _by_id(_published(broker, s)) == first
    want, _ = _replay_run(small_world, events, 2)
    assert first == _by_id(want)


def _parses(raw: bytes) -> bool:
    try:
        parse_event(raw)
    except InvalidRecord:
        return False
    return True
