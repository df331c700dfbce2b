"""The streaming service against a real broker (Tansu): same decisions as replay,
dead letters, directory updates, analysts' commands, crashes and restarts."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumers.broker import EmbeddedBroker
from consumers.changelog import restore
from consumers.feed import employee_key_of
from consumers.records import DLQ_CODE, DLQ_OFFSET, DLQ_PARTITION, DLQ_REASON, DLQ_TOPIC
from consumers.service import Service
from consumers.topics import ensure_topics
from detector.replay import load_directory, replay
from detector.settings import DecisionSettings, Settings
from detector.wire.events import DATA_OUT_ACTIONS
from detector.wire.jsonl import iter_lines
from tests.committed_view import check_committed_view
from tests.kafka_kit import (
    add_ends,
    committed_offsets,
    paced,
    produce,
    read_topic,
    service_settings,
    settings_env,
    wait_committed,
)

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[bytes]:
    return [raw for _, raw in iter_lines(str(path))]


_key = employee_key_of


def _keyed(lines: list[bytes]) -> list[tuple[bytes | None, bytes | None]]:
    return [(_key(raw), raw) for raw in lines]


def _replayed(world: Path, events: list[bytes], partitions: int) -> list[dict[str, Any]]:
    return _replay_run(world, events, partitions)[0]


def _replay_run(
    world: Path, events: list[bytes], partitions: int, settings: Settings | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Replay's actions and the number of valid events it scored (default settings, or
    the scoring of ``settings``)."""
    directory, _, _ = load_directory(iter_lines(str(world / "employees.jsonl")))
    out: list[bytes] = []
    base = Settings()
    if settings is not None:
        base = dataclasses.replace(base, scoring=settings.scoring)
    summary, _ = replay(base, enumerate(events, 1), directory, out.append,
                        partitions=partitions)
    return [_comparable(orjson.loads(x)) for x in out], summary.events


def _comparable(action: dict[str, Any]) -> dict[str, Any]:
    action.pop("decided_at", None)  # wall-clock time of the decision
    return action


def _published(broker: EmbeddedBroker, s: Settings) -> list[dict[str, Any]]:
    msgs = read_topic(broker.bootstrap, s.topics.alerts)
    msgs += read_topic(broker.bootstrap, s.topics.freeze_commands)
    return [_comparable(orjson.loads(m.value)) for m in msgs]


def _by_id(actions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["action_id"]: a for a in actions}


@contextmanager
def running(s: Settings, service: Service | None = None) -> Iterator[Service]:
    """A service (``Service(s)`` unless given) run on a thread until the block ends."""
    svc = Service(s) if service is None else service
    errors: list[BaseException] = []

    def target() -> None:
        try:
            svc.run()
        except BaseException as exc:  # surfaced by the test below
            errors.append(exc)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    try:
        yield svc
    finally:
        svc.stop_event.set()
        th.join(30)
        assert not th.is_alive(), "service did not stop"
    assert not errors, errors


def _wait(cond: Any, timeout: float = 90.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _finished(svc: Service | None, s: Settings, events: dict[int, int],
              commands: dict[int, int] | None = None, timeout: float = 120.0,
              **client: Any) -> None:
    """Wait until the group has committed every produced event (and command), read
    independently of the service, with every partition owned by ``svc`` and open.

    Not the service's own counters: they count records read again after a failed
    checkpoint or a lost partition twice, and a dropped task shows no pending work.
    """
    n = s.topics.partitions
    produced = {s.topics.events: events, s.topics.commands: commands or {}}
    wait_committed(s.kafka.bootstrap_servers, s.kafka.group_id, produced, n,
                   also=(lambda: True) if svc is None
                   else (lambda: svc.ready() and len(svc.tasks) == n),
                   timeout=timeout, **client)


# ---------------------------------------------------------------------------


def test_service_publishes_what_replay_decides_and_dead_letters_bad_records(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s = service_settings(broker, partitions=3)
    ensure_topics(s)
    events = _lines(small_world / "events.jsonl")
    deep = events[0].rstrip()[:-1] + b', "x": ' + b"[" * 600 + b"]" * 600 + b"}"
    crafted = [b"\xff\xfe not utf-8", b"[1, 2]", b'{"event_id": 5}', deep]
    mid = len(events) // 2
    stream = events[:mid] + crafted + events[mid:]
    produce(broker.bootstrap, s.topics.directory, _keyed(_lines(small_world / "employees.jsonl")))
    ends = produce(broker.bootstrap, s.topics.events,
                   [*_keyed(stream), (b"E-tombstone", None)])
    want = _replayed(small_world, stream, 3)
    assert want, "the world should raise some actions"
    with running(s) as svc:
        _finished(svc, s, ends)
    got = _published(broker, s)
    check_committed_view(broker.bootstrap, s, want)  # duplicates only in aborted transactions
    assert _by_id(got) == _by_id(want)

    dlq = read_topic(broker.bootstrap, s.topics.dead_letter)
    directory, _, _ = load_directory(iter_lines(str(small_world / "employees.jsonl")))
    rejects: list[bytes] = []
    summary, _ = replay(Settings(), enumerate(stream, 1), directory, lambda _: None,
                        on_reject=lambda n, exc: rejects.append(stream[n - 1]))
    assert len(dlq) == summary.rejects + 1 == len(rejects) + 1
    by_value = {m.value: m for m in dlq}
    for raw in crafted:
        m = by_value[raw]  # the original bytes, untouched
        headers = {k: v.decode() for k, v in m.headers}
        assert headers[DLQ_TOPIC] == s.topics.events
        assert int(headers[DLQ_PARTITION]) in range(3)
        assert int(headers[DLQ_OFFSET]) >= 0
        assert headers[DLQ_REASON] and headers[DLQ_CODE]
    nested = {k: v.decode() for k, v in by_value[deep].headers}
    assert nested[DLQ_CODE] == "too_deep"
    empty = {k: v.decode() for k, v in by_value[b""].headers}
    assert empty[DLQ_CODE] == "empty"


def _record_for(world: Path, employee_id: str) -> dict[str, Any]:
    recs = [orjson.loads(x) for x in _lines(world / "employees.jsonl")]
    return [r for r in recs if r["employee_id"] == employee_id][-1]  # type: ignore[no-any-return]


def _event_like(world: Path, employee_id: str, event_id: str, when: str) -> bytes:
    mine = [orjson.loads(x) for x in _lines(world / "events.jsonl")
            if b'"' + employee_id.encode() + b'"' in x]
    quiet = next(e for e in reversed(mine) if e.get("action") not in DATA_OUT_ACTIONS)
    quiet.update(event_id=event_id, timestamp=when)
    return orjson.dumps(quiet)


def _active_employees(world: Path) -> list[str]:
    labels = orjson.loads((world / "labels.json").read_bytes())
    involved = {c["employee_id"] for c in labels["scenarios"] + labels["benign"]}
    recs = [orjson.loads(x) for x in _lines(world / "employees.jsonl")]
    ids = {r["employee_id"] for r in recs if r.get("status", "active") == "active"} - involved
    busy: dict[str, int] = {}
    for raw in _lines(world / "events.jsonl"):
        k = _key(raw)
        if k is not None and k.decode() in ids:
            busy[k.decode()] = busy.get(k.decode(), 0) + 1
    return sorted(busy, key=lambda e: (-busy[e], e))


def test_directory_updates_and_analyst_commands_change_decisions(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s, _, ends = _loaded(broker, small_world, 2)
    a, b = _active_employees(small_world)[:2]
    actions: list[Any] = []
    with running(s) as svc:
        svc.on_action = actions.append
        _finished(svc, s, ends)
        before = len(actions)
        # HR terminates both, dated a day after the last event of the history.
        for emp in (a, b):
            rec = _record_for(small_world, emp)
            rec.update(status="terminated", updated_at="2026-10-15T09:00:00Z")
            produce(broker.bootstrap, s.topics.directory, [(emp.encode(), orjson.dumps(rec))])
        _wait(lambda: svc.feed is not None and svc.feed.records
              >= len(_lines(small_world / "employees.jsonl")) + 2, what="directory update")
        add_ends(ends, produce(broker.bootstrap, s.topics.events, [
            (a.encode(), _event_like(small_world, a, "probe-a-1", "2026-10-15T12:00:00Z")),
            (b.encode(), _event_like(small_world, b, "probe-b-1", "2026-10-15T12:00:00Z")),
        ]))
        _wait(lambda: len(actions) >= before + 4, what="alerts and freezes for both")
        new = actions[before:]
        for emp in (a, b):
            alert = next(x for x in new if x.employee_id == emp and x.type == "alert")
            assert alert.severity == "critical"
            assert alert.reasons[0].code == "terminated_account"
            assert any(x.employee_id == emp and x.type == "freeze" for x in new)
        alert_a = next(x for x in new if x.employee_id == a and x.type == "alert")
        n = len(actions)
        commands = produce(broker.bootstrap, s.topics.commands, [
            (b.encode(), orjson.dumps({"command": "release", "employee_id": b,
                                       "reason": "verified with HR", "analyst": "sam"})),
            (a.encode(), orjson.dumps({"command": "false_positive", "employee_id": a,
                                       "action_id": alert_a.action_id})),
            (a.encode(), b'{"command": "shrug"}'),
        ])
        _wait(lambda: len(actions) >= n + 2, what="two releases")
        released = {x.employee_id: x.release_reason for x in actions[n:] if x.type == "release"}
        assert released == {a: "false_positive", b: "analyst"}
        # The false positive's pattern no longer alerts for a; b still does.
        m = len(actions)
        add_ends(ends, produce(broker.bootstrap, s.topics.events, [
            (a.encode(), _event_like(small_world, a, "probe-a-2", "2026-10-15T13:00:00Z")),
            (b.encode(), _event_like(small_world, b, "probe-b-2", "2026-10-16T13:00:00Z")),
        ]))
        _finished(svc, s, ends, commands)
        later = actions[m:]
        assert not any(x.employee_id == a for x in later)
        assert any(x.employee_id == b and x.type == "alert" for x in later)
    dlq = [m for m in read_topic(broker.bootstrap, s.topics.dead_letter)
           if dict(m.headers)[DLQ_TOPIC] == s.topics.commands.encode()]
    assert [m.value for m in dlq] == [b'{"command": "shrug"}']
    assert dict(dlq[0].headers)[DLQ_REASON] == b"command: must be one of release, false_positive"


# --- processes: kill, restart ---------------------------------------------------


def _start(s: Settings, log: Path,
           extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env(s), "PYTHONPATH": str(ROOT), **(extra or {})}
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "consumers.cli", "run"], env=env,
                                stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(20)


def _feed(broker: EmbeddedBroker, topic: str, items: list[tuple[bytes | None, bytes | None]],
          per_second: float, done: threading.Event,
          ends: dict[int, int] | None = None) -> threading.Thread:
    """Produce ``items`` at about ``per_second`` on a thread; ``ends`` collects the
    partitions' produced ends."""
    produced = {} if ends is None else ends
    return paced(items, per_second, 500,
                 lambda chunk: add_ends(produced, produce(broker.bootstrap, topic, chunk)), done)


def _prepared(
    broker: EmbeddedBroker, world: Path, partitions: int, **service: object
) -> tuple[Settings, list[bytes]]:
    """Fresh topics with the world's directory on them; the world's keyed events."""
    return _prepared_with(service_settings(broker, partitions=partitions, **service), broker,
                          world)


def _prepared_with(
    s: Settings, broker: EmbeddedBroker, world: Path
) -> tuple[Settings, list[bytes]]:
    _with_directory(s, broker, world)
    return s, [x for x in _lines(world / "events.jsonl") if _key(x) is not None]


def _loaded(
    broker: EmbeddedBroker, world: Path, partitions: int
) -> tuple[Settings, list[bytes], dict[int, int]]:
    """Fresh topics with the world's directory and all its events on them: the settings,
    the event lines and the partitions' produced ends."""
    s = service_settings(broker, partitions=partitions)
    _with_directory(s, broker, world)
    events = _lines(world / "events.jsonl")
    return s, events, produce(broker.bootstrap, s.topics.events, _keyed(events))


def _with_directory(s: Settings, broker: EmbeddedBroker, world: Path) -> None:
    """The test's topics, with the world's directory on them."""
    ensure_topics(s)
    produce(broker.bootstrap, s.topics.directory, _keyed(_lines(world / "employees.jsonl")))


def _state_events(s: Settings, partitions: int, broker: EmbeddedBroker) -> int:
    """Events counted in the committed state of every partition."""
    ev = committed_offsets(broker.bootstrap, s.kafka.group_id, s.topics.events)
    cm = committed_offsets(broker.bootstrap, s.kafka.group_id, s.topics.commands)
    committed = {p: (ev.get(p, 0), cm.get(p, 0)) for p in range(partitions)}
    restored = restore(s, range(partitions), committed, None, s.service.restore_stall_s)
    return sum(r.shared["counters"].events for r in restored.values() if r.shared)


def test_killed_instance_is_taken_over_without_loss_or_duplicates(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    s, events = _prepared(broker, small_world, 4)
    a = _start(s, tmp_path / "a.log")
    b = _start(s, tmp_path / "b.log")
    try:
        done = threading.Event()
        ends: dict[int, int] = {}
        feeder = _feed(broker, s.topics.events, _keyed(events), 4000.0, done, ends)
        total = len(events)
        _wait(lambda: sum(committed_offsets(broker.bootstrap, s.kafka.group_id,
                                            s.topics.events).values()) > total * 0.3,
              what="both instances at work")
        assert a.poll() is None and b.poll() is None
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        feeder.join(120)
        assert done.is_set()
        _finished(None, s, ends)
        assert b.poll() is None, "the survivor died"
        assert _stop(b) == 0
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
    want, scored = _replay_run(small_world, events, 4)
    # Duplicates only inside transactions shown aborted (Tansu serves them).
    check_committed_view(broker.bootstrap, s, want)
    assert _state_events(s, 4, broker) == scored, "an event was lost or counted twice"
    log_b = (tmp_path / "b.log").read_text()
    assert "partitions assigned" in log_b and "state restored" in log_b


def test_restarted_detector_resumes_with_its_baselines(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    s, events = _prepared(broker, small_world, 2)
    half = int(len(events) * 0.7)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events[:half]))
    first = _start(s, tmp_path / "first.log")
    try:
        _finished(None, s, ends)
        started = time.monotonic()
        assert _stop(first, signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
    finally:
        if first.poll() is None:
            first.kill()
    add_ends(ends, produce(broker.bootstrap, s.topics.events, _keyed(events[half:])))
    second = _start(s, tmp_path / "second.log")
    try:
        _finished(None, s, ends)
        assert _stop(second, signal.SIGINT) == 0
    finally:
        if second.poll() is None:
            second.kill()
    got = _published(broker, s)
    want, scored = _replay_run(small_world, events, 2)
    # One uninterrupted replay and a stop-and-resume make the same decisions:
    # no cold-start flood after the restart.
    assert _by_id(got) == _by_id(want)
    restored_lines = [orjson.loads(x) for x in (tmp_path / "second.log").read_bytes().splitlines()
                      if b"state restored" in x]
    assert restored_lines and sum(x["employees"] for x in restored_lines) >= 30
    assert _state_events(s, 2, broker) == scored


@pytest.mark.parametrize("bad", [
    {"INSIDER_KAFKA__BOOTSTRAP_SERVERS": "nohost"},
    {"INSIDER_SERVICE__DELIVERY": "twice"},
    {"INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"},
    {"INSIDER_SCORING__PEER_CLOSE_GRACE_S": "0"},
])
def test_invalid_settings_fail_at_start_naming_the_setting(bad: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **bad}
    proc = subprocess.run([sys.executable, "-m", "consumers.cli", "run"], env=env,
                          capture_output=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    name = next(iter(bad)).removeprefix("INSIDER_").lower().replace("__", ".")
    if "SASL" in str(bad):
        name = "kafka.sasl_username"
    assert name in proc.stderr.decode()


def test_at_least_once_mode_makes_the_same_decisions(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s, events = _prepared(broker, small_world, 2, delivery="at_least_once")
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    with running(s) as svc:
        _finished(svc, s, ends)
    got = _published(broker, s)
    assert _by_id(got) == _by_id(_replayed(small_world, events, 2))


def test_unreachable_broker_is_a_clear_error_not_a_traceback() -> None:
    from consumers.broker import free_port

    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "INSIDER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
           "INSIDER_KAFKA__REQUEST_TIMEOUT_MS": "3000"}
    proc = subprocess.run([sys.executable, "-m", "consumers.cli", "run"], env=env,
                          capture_output=True, timeout=120, cwd=ROOT)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Unable to bootstrap" in err and "kafka.bootstrap_servers" in err
    assert "Traceback" not in err


def test_freezes_expire_on_a_partition_that_has_gone_quiet(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s = service_settings(broker, partitions=1, idle_expiry_after_s=0.5)
    s = dataclasses.replace(s, decisions=DecisionSettings(freeze_ttl_seconds=3))
    s, events = _prepared_with(s, broker, small_world)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
    a = _active_employees(small_world)[0]
    actions: list[Any] = []
    with running(s) as svc:
        svc.on_action = actions.append
        _finished(svc, s, ends)
        rec = _record_for(small_world, a)
        rec.update(status="terminated", updated_at="2026-10-15T09:00:00Z")
        produce(broker.bootstrap, s.topics.directory, [(a.encode(), orjson.dumps(rec))])
        _wait(lambda: svc.feed is not None and svc.feed.records
              >= len(_lines(small_world / "employees.jsonl")) + 1, what="directory update")
        produce(broker.bootstrap, s.topics.events,
                [(a.encode(), _event_like(small_world, a, "probe-q-1", "2026-10-15T12:00:00Z"))])
        # The termination also locks the account's data access (no expiry): the
        # data-out freeze is the one with a TTL.
        _wait(lambda: any(x.type == "freeze" and x.employee_id == a and x.scope == "data_out"
                          for x in actions), what="the freeze")
        freeze = next(x for x in actions
                      if x.type == "freeze" and x.employee_id == a and x.scope == "data_out")
        # No event follows: the quiet partition's clock lets the 3 s freeze expire.
        _wait(lambda: any(x.type == "release" and x.employee_id == a for x in actions),
              timeout=30, what="the release")
        release = next(x for x in actions if x.type == "release" and x.employee_id == a)
        assert release.release_reason == "ttl_expired"
        assert release.event_time == freeze.expires_at


def test_metrics_count_what_the_service_did_and_name_no_one(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    import urllib.error
    import urllib.request

    from consumers.broker import free_port

    port = free_port()
    s = service_settings(broker, partitions=1, metrics_port=port, metrics_host="127.0.0.1")
    s, events = _prepared_with(s, broker, small_world)
    ends = produce(broker.bootstrap, s.topics.events, [*_keyed(events), (b"E1", b"{broken")])
    with running(s) as svc:
        _finished(svc, s, ends)
        time.sleep(0.3)  # one more loop turn, so the gauges reflect the last checkpoint
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        for path in ("/healthz", "/readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                assert r.status == 200
        actions = dict(svc.stats.actions)
        svc.stats.loop_heartbeat -= 3600  # as if the loop had stalled for an hour
        with pytest.raises(urllib.error.HTTPError) as stalled:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert stalled.value.code == 503
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in text.splitlines() if line.startswith("insider_")}
    assert values["insider_events_consumed_total"] == len(events) + 1
    assert values['insider_rejects_total{reason="not_json"}'] >= 1
    assert values["insider_partitions_owned"] == 1
    assert values["insider_employees_tracked"] >= 30
    for kind, n in actions.items():
        assert values[f'insider_actions_total{{type="{kind}"}}'] == n
    alerts = sum(v for k, v in values.items() if k.startswith("insider_alerts_total{"))
    assert alerts == actions.get("alert", 0) > 0
    scored = values["insider_score_count"]
    assert scored == len(events) - sum(
        v for k, v in values.items() if k.startswith("insider_rejects_total{")) + 1
    assert values['insider_score_bucket{le="+Inf"}'] == scored
    by_action = {k: v for k, v in values.items() if k.startswith("insider_events_total{")}
    assert sum(by_action.values()) == len(events) + 1
    assert by_action['insider_events_total{action="invalid",outcome="rejected"}'] == (
        len(events) + 1 - scored)
    assert by_action['insider_events_total{action="view",outcome="normal"}'] > 0
    assert sum(v for k, v in by_action.items() if 'outcome="suspicious"' in k) > 0
    assert values["insider_decision_seconds_count"] >= 1
    assert values['insider_consumer_lag{partition="0"}'] == 0
    assert values['insider_partition_stalled{input="events",partition="0"}'] == 0
    assert values["insider_up"] == 1
    employees = {orjson.loads(x)["employee_id"] for x in _lines(small_world / "employees.jsonl")}
    assert not any(e in text for e in employees)
