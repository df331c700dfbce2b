"""The service's audit trail against a real broker: every committed action and
every applied command chained per partition, heads published to a topic, the
trail verified against them, and tampering named."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_service import _finished, _keyed, _lines, _with_directory, running

from consumers.broker import EmbeddedBroker
from consumers.cli import main
from detector.settings import Settings
from tests.kafka_kit import add_ends, produce, read_topic, service_settings

PARTITIONS = 2


def _entries(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def _anchors(broker: EmbeddedBroker, s: Settings, tmp: Path) -> dict[int, Path]:
    heads: dict[int, list[bytes]] = {}
    for m in read_topic(broker.bootstrap, s.topics.audit_heads):
        heads.setdefault(orjson.loads(m.value)["partition"], []).append(m.value)
    out = {}
    for p, values in heads.items():
        out[p] = tmp / f"heads-{p}.jsonl"
        out[p].write_bytes(b"\n".join(values) + b"\n")
    return out


def test_the_trail_holds_every_action_and_command_and_verifies_against_published_heads(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = tmp_path / "audit.key"
    key.write_text("not-the-analysts-key\n")
    trail_dir = tmp_path / "audit"
    s = service_settings(broker, partitions=PARTITIONS, audit_dir=str(trail_dir),
                         audit_key_file=str(key), audit_head_every_s=0.3)
    _with_directory(s, broker, small_world)
    events = _lines(small_world / "events.jsonl")
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events[: len(events) // 2]))
    with running(s) as svc:
        _finished(svc, s, ends)
        employee = orjson.loads(_lines(small_world / "employees.jsonl")[0])["employee_id"]
        release = {"command": "release", "employee_id": employee, "reason": "checked",
                   "analyst": "sec-7"}
        commands = produce(broker.bootstrap, s.topics.commands,
                           [(employee.encode(), orjson.dumps(release))])
        add_ends(ends, produce(broker.bootstrap, s.topics.events,
                               _keyed(events[len(events) // 2:])))
        _finished(svc, s, ends, commands)
        time.sleep(0.5)  # one more head after the last action
        # A duplicate: no action.
        add_ends(ends, produce(broker.bootstrap, s.topics.events, _keyed(events[-1:])))
        _finished(svc, s, ends, commands)

    published = {orjson.loads(m.value)["action_id"]
                 for topic in (s.topics.alerts, s.topics.freeze_commands)
                 for m in read_topic(broker.bootstrap, topic)}
    files = sorted(trail_dir.glob("*.audit.jsonl"))
    assert len(files) == PARTITIONS
    entries = [e for f in files for e in _entries(f)]
    audited = {e["body"]["action_id"] for e in entries if e["kind"] == "action"}
    assert audited == published
    commands = [e["body"] for e in entries if e["kind"] == "command"]
    assert len(commands) == 1 and commands[0]["analyst"] == "sec-7"
    assert any(e["kind"] == "head" for e in entries)

    anchors = _anchors(broker, s, tmp_path)
    for f in files:
        p = int(f.name.rsplit("-", 1)[1].split(".")[0])
        rc = main(["audit", "verify", str(f), "--key-file", str(key), "--anchors",
                   str(anchors[p])])
        out = capsys.readouterr().out
        assert rc == 0, out
        assert out.startswith("ok: ")

    # Tampering: a deleted entry and a cut-off end are both named.
    victim = max(files, key=lambda f: len(_entries(f)))
    p = int(victim.name.rsplit("-", 1)[1].split(".")[0])
    lines = victim.read_bytes().splitlines(keepends=True)
    victim.write_bytes(b"".join(lines[:3] + lines[4:]))
    assert main(["audit", "verify", str(victim), "--key-file", str(key)]) == 1
    assert "entry deleted" in capsys.readouterr().out
    # Cut the end just before the last published head: the chain alone still verifies.
    last_head = max(orjson.loads(x)["seq"] for x in anchors[p].read_bytes().splitlines())
    victim.write_bytes(b"".join(lines[:last_head]))
    assert main(["audit", "verify", str(victim), "--key-file", str(key)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", str(victim), "--key-file", str(key),
                 "--anchors", str(anchors[p])]) == 1
    assert "truncated" in capsys.readouterr().out


def test_a_restarted_service_continues_the_chain(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trail_dir = tmp_path / "audit"
    s = service_settings(broker, partitions=1, audit_dir=str(trail_dir),
                         audit_head_every_s=0.2)
    _with_directory(s, broker, small_world)
    events = _lines(small_world / "events.jsonl")
    half = len(events) // 2
    ends = produce(broker.bootstrap, s.topics.events, _keyed(events[:half]))
    with running(s) as svc:
        _finished(svc, s, ends)
    (trail,) = trail_dir.glob("*.audit.jsonl")
    first = len(_entries(trail))
    add_ends(ends, produce(broker.bootstrap, s.topics.events, _keyed(events[half:])))
    with running(s) as svc:
        _finished(svc, s, ends)
    entries = _entries(trail)
    assert len(entries) > first
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert main(["audit", "verify", str(trail)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {len(entries)} entries")
