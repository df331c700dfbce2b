"""The detector killed with SIGKILL at random points, again and again, while
events arrive: the committed outputs and state are those of one clean run.

"Committed outputs" are the records of transactions not shown aborted by their
provenance headers (committed_view.py): the test broker serves aborted records
to read-committed readers, Apache Kafka does not."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

from test_service import (
    _feed,
    _finished,
    _keyed,
    _prepared,
    _replay_run,
    _start,
    _state_events,
    _stop,
    _wait,
)

from consumers.broker import EmbeddedBroker
from tests.committed_view import check_committed_view
from tests.kafka_kit import committed_total

KILLS = 5


def test_repeated_sigkills_lose_nothing_and_duplicate_nothing(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    partitions = 3
    s, events = _prepared(broker, small_world, partitions)
    total = len(events)
    rng = random.Random(20261123)
    done = threading.Event()
    # Slow enough that events still arrive after the last kill.
    ends: dict[int, int] = {}
    feeder = _feed(broker, s.topics.events, _keyed(events), 500.0, done, ends)
    kills: list[int] = []  # committed events at each kill
    for i in range(KILLS):
        proc = _start(s, tmp_path / f"run-{i}.log")
        try:
            before = committed_total(broker.bootstrap, s.kafka.group_id, s.topics.events)
            # Kill only once this run has committed something: a kill during the group
            # join alone would test nothing new.
            _wait(lambda b=before: committed_total(broker.bootstrap, s.kafka.group_id,
                                                   s.topics.events) > b,
                  timeout=60, what=f"run {i} to commit")
            time.sleep(rng.uniform(0.0, 1.5))
            assert proc.poll() is None, f"run {i} died on its own"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills.append(committed_total(broker.bootstrap, s.kafka.group_id, s.topics.events))
    feeder.join(180)
    assert done.is_set()
    last = _start(s, tmp_path / "last.log")
    try:
        _finished(None, s, ends, timeout=180)
        assert _stop(last) == 0
    finally:
        if last.poll() is None:
            last.kill()
    print(f"\nkilled at {kills} of {total:,} committed events")
    assert len(kills) == KILLS and kills[-1] < total, "every kill came mid-stream"
    want, scored = _replay_run(small_world, events, partitions)
    # Tansu shows aborted transactions to read-committed readers: duplicates are
    # allowed only inside transactions shown aborted (see committed_view).
    check_committed_view(broker.bootstrap, s, want)
    assert _state_events(s, partitions, broker) == scored, "an event lost or counted twice"
