"""The shared peer table in the service, on the real broker: two instances over six
partitions decide what replay decides at six partitions, a new hire is judged
against the whole group, a killed instance changes no decision, and a restarted
service rebuilds the same peer view from the peer-stats topic."""

from __future__ import annotations

import dataclasses
import signal
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_service import (
    _by_id,
    _comparable,
    _feed,
    _finished,
    _keyed,
    _lines,
    _published,
    _start,
    _stop,
    _wait,
    _with_directory,
    running,
)

from consumers.broker import EmbeddedBroker
from consumers.service import Service
from consumers.topics import ensure_topics
from detector.partitioning import partition_for
from detector.replay import load_directory, replay
from detector.settings import Settings
from models.peer_table import DAY, PeerTable
from tests.committed_view import check_committed_view
from tests.kafka_kit import produce, read_topic, service_settings

pytestmark = pytest.mark.broker

PARTITIONS = 6


# An idle, caught-up partition closes its days after this many seconds; short, so
# that the last day's events are scored soon after the input ends.
GRACE_S = 3.0


def _shared(s: Settings) -> Settings:
    return dataclasses.replace(s, scoring=dataclasses.replace(
        s.scoring, shared_peers=True, peer_close_grace_s=GRACE_S))


def _replayed(directory_lines: list[bytes], events: list[bytes]) -> list[dict[str, Any]]:
    directory, _, _ = load_directory(enumerate(directory_lines, 1))
    out: list[bytes] = []
    replay(_shared(Settings()), enumerate(events, 1), directory, out.append,
           partitions=PARTITIONS)
    return [_comparable(orjson.loads(x)) for x in out]


def _hr(emp: str) -> bytes:
    return orjson.dumps({
        "employee_id": emp, "role": "account_manager", "peer_group": "account_managers",
        "status": "active", "timezone": "UTC", "working_hours": {"start": "00:00", "end": "23:59"},
        "updated_at": "2026-01-01T00:00:00Z",
    })


def _export(emp: str, day: int, hour: int, rows: int, n: int) -> bytes:
    return orjson.dumps({
        "event_id": f"{emp}-{day}-{hour}-{n}", "employee_id": emp, "action": "export",
        "timestamp": f"2026-01-{day:02d}T{hour:02d}:{n % 60:02d}:00Z",
        "record_count": rows, "customer_ids": [],
    })


def _group_world() -> tuple[list[bytes], list[bytes], int]:
    """Twelve account managers, two on each of the six partitions, two weeks of
    ordinary exports, then a new hire's first export at a hundred times theirs."""
    members: list[str] = []
    per = dict.fromkeys(range(PARTITIONS), 0)
    i = 0
    while len(members) < 2 * PARTITIONS:
        emp = f"am{i:03d}"
        p = partition_for(emp, PARTITIONS)
        if per[p] < 2:
            per[p] += 1
            members.append(emp)
        i += 1
    directory = [_hr(emp) for emp in [*members, "newhire"]]
    events = [_export(emp, day, 9 + k, 300 + 10 * j, k)
              for day in range(2, 15) for j, emp in enumerate(members) for k in range(2)]
    events.append(_export("newhire", 15, 10, 30000, 0))
    return directory, events, len(members)


@pytest.mark.parametrize("hold_max", [50_000, 3])
def test_a_new_hire_is_judged_against_the_whole_group_spread_over_six_partitions(
    broker: EmbeddedBroker, hold_max: int
) -> None:
    """With a hold of 3 records, tasks waiting at the barrier drop what they cannot
    hold and read it again: the same decisions."""
    s = _shared(service_settings(broker, partitions=PARTITIONS))
    s = dataclasses.replace(s, scoring=dataclasses.replace(s.scoring, peer_hold_max=hold_max))
    directory, events, members = _group_world()
    want = _replayed(directory, events)
    texts = " ".join(r["text"] for a in want if a["type"] == "alert" for r in a["reasons"])
    assert f"peer group of {members}" in texts
    ensure_topics(s)
    produce(broker.bootstrap, s.topics.directory, _keyed(directory))
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    # Two instances in one group: each scores three partitions against one view.
    a, b = Service(s), Service(s)
    with running(s, a), running(s, b):
        _wait(lambda: len(a.tasks) + len(b.tasks) == PARTITIONS and a.ready() and b.ready(),
              what="both instances ready")
        _finished(None, s, ends)
        assert a.peer_table is not None and b.peer_table is not None
        view_day = max(a.peer_table.day, b.peer_table.day)
        # Both have read every partition's markers up to the day before the last.
        _wait(lambda: min(x.peer_feed.barrier() if x.peer_feed else -1 for x in (a, b))
              >= view_day - 1, what="both instances past the barrier")
    got = _published(broker, s)
    assert _by_id(got) == _by_id(want)
    if hold_max < 10:
        assert sum(x.intake.gate.dropped for x in (a, b) if x.intake.gate) > 0
    # The idle partitions followed the others in event time: nothing came late.
    assert a.stats.peer_late_events == b.stats.peer_late_events == 0
    assert _view(b.peer_table, view_day) == _view(a.peer_table, view_day)

    # A restart rebuilds the same view from the topic before it scores anything.
    again = Service(s)
    with running(s, again):
        _wait(again.ready, what="restarted service ready")
    assert again.peer_table is not None
    assert _view(again.peer_table, view_day) == _view(a.peer_table, view_day)
    assert _view(a.peer_table, view_day)["groups"], "the view holds the group"


def _view(table: PeerTable, day: int) -> dict[str, Any]:
    """The folded view as of ``day`` (what an event of that day is judged with)."""
    table.advance(day * DAY)
    return {
        "groups": {g: c.to_wire() for g, c in sorted(table.groups.items())},
        "members": table.members,
    }


def test_a_killed_instance_changes_no_decision(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    s = _shared(service_settings(broker, partitions=PARTITIONS))
    _with_directory(s, broker, small_world)
    events = [x for x in _lines(small_world / "events.jsonl") if _keyed([x])[0][0] is not None]
    directory = _lines(small_world / "employees.jsonl")
    want = _replayed(directory, events)
    assert want, "the world should raise some actions"
    env = {"INSIDER_SCORING__SHARED_PEERS": "true",
           "INSIDER_SCORING__PEER_CLOSE_GRACE_S": str(GRACE_S)}
    a = _start(s, tmp_path / "a.log", env)
    b = _start(s, tmp_path / "b.log", env)
    try:
        done = threading.Event()
        ends: dict[int, int] = {}
        feeder = _feed(broker, s.topics.events, _keyed(events), 3000.0, done, ends)
        _wait(lambda: b"closed" in _peer_keys(broker, s), what="a day closed")
        assert a.poll() is None and b.poll() is None
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        feeder.join(120)
        assert done.is_set()
        _finished(None, s, ends, timeout=240)
        assert b.poll() is None, "the survivor died"
        assert _stop(b) == 0
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
    # Duplicates only inside transactions shown aborted (Tansu serves them).
    check_committed_view(broker.bootstrap, s, want)
    assert "state restored" in (tmp_path / "b.log").read_text()


def _peer_keys(broker: EmbeddedBroker, s: Settings) -> set[bytes]:
    return {m.key for m in read_topic(broker.bootstrap, s.topics.peer_stats, quiet=0.2)}

