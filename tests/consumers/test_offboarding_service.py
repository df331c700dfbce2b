"""The offboarding lock in the service: published from directory records alone, on a
quiet partition, with the ids replay gives; lifted when HR reverses the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from test_service import (
    _active_employees,
    _finished,
    _keyed,
    _lines,
    _prepared_with,
    _record_for,
    _wait,
    running,
)

from consumers.broker import EmbeddedBroker
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.actions import LOCK_SCOPE
from detector.wire.jsonl import iter_lines
from detector.wire.times import rfc3339
from tests.kafka_kit import produce, service_settings


def _last_event(world: Path) -> datetime:
    last = datetime.min.replace(tzinfo=UTC)
    for raw in _lines(world / "events.jsonl"):
        try:
            when = datetime.fromisoformat(str(orjson.loads(raw)["timestamp"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # the world's malformed events
        if when.tzinfo is not None:
            last = max(last, when)
    return last


def _replayed_locks(world: Path, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    directory, _, _ = load_directory(
        [*iter_lines(str(world / "employees.jsonl")),
         *((0, orjson.dumps(r)) for r in extra)])
    out: list[bytes] = []
    replay(Settings(), iter_lines(str(world / "events.jsonl")), directory, out.append)
    return [d for d in map(orjson.loads, out) if d.get("scope") == LOCK_SCOPE]


def test_service_locks_leavers_without_an_event_and_lifts_on_reversal(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s = service_settings(broker, partitions=1, idle_expiry_after_s=0.5)
    s, events = _prepared_with(s, broker, small_world)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    a, c = _active_employees(small_world)[:2]
    last = _last_event(small_world)
    # a is terminated, then reinstated, both dated before the last event; c is
    # terminated a few seconds past it, which only the quiet partition's clock reaches.
    fired = dict(_record_for(small_world, a), status="terminated",
                 updated_at=(last - timedelta(hours=5)).isoformat())
    back = dict(_record_for(small_world, a), status="active",
                updated_at=(last - timedelta(hours=2)).isoformat())
    later = dict(_record_for(small_world, c), status="terminated",
                 updated_at=(last + timedelta(seconds=3)).isoformat())
    actions: list[Any] = []
    records = len(_lines(small_world / "employees.jsonl"))
    with running(s) as svc:
        svc.on_action = actions.append
        _finished(svc, s, ends)
        before = len([x for x in actions if x.scope == LOCK_SCOPE])
        for n, rec in enumerate((fired, back, later), 1):
            produce(broker.bootstrap, s.topics.directory,
                    [(rec["employee_id"].encode(), orjson.dumps(rec))])
            _wait(lambda n=n: svc.feed is not None and svc.feed.records >= records + n,
                  what="directory update")
            _wait(lambda n=n: len([x for x in actions if x.scope == LOCK_SCOPE]) >= before + n,
                  timeout=60, what=f"lock action {n}")
    mine = [x for x in actions if x.scope == LOCK_SCOPE][before:]
    assert [(x.employee_id, x.type) for x in mine] == [
        (a, "freeze"), (a, "release"), (c, "freeze")]
    assert mine[0].reasons[0].code == "offboarding_terminated"
    assert mine[0].expires_at is None
    assert mine[1].release_reason == "hr_reversed"
    assert mine[2].event_time == rfc3339(last.timestamp() + 3)
    # Replay of the same directory and events publishes a's lock and lift with the
    # same ids; it has no clock to reach c's.
    want = _replayed_locks(small_world, [fired, back])
    replayed = {(d["employee_id"], d["type"]): d for d in want}
    for x in mine[:2]:
        doc = x.to_dict()
        got = replayed[(x.employee_id, x.type)]
        assert {k: v for k, v in doc.items() if k != "decided_at"} == {
            k: v for k, v in got.items() if k != "decided_at"}
    assert (c, "freeze") not in replayed
