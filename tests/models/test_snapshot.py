"""State snapshots: round trip, signatures, and no code run from crafted bytes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import orjson
import pytest

from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.events import parse_event
from detector.wire.jsonl import iter_lines
from models.peer_table import PeerTable
from models.snapshot import SnapshotError, dump, load


def _engine_after(world: Path, n: int | None = None) -> tuple[Engine, list[bytes]]:
    lines = _lines(world)
    directory, _, _ = load_directory(iter_lines(str(world / "employees.jsonl")))
    out: list[bytes] = []
    _, engines = replay(Settings(), enumerate(lines[:n], 1), directory, out.append,
                        clock=lambda: 0.0)
    return engines[0], out


def _lines(world: Path) -> list[bytes]:
    return [raw for _, raw in iter_lines(str(world / "events.jsonl"))]


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/should-never-exist",))


def test_round_trip_keeps_every_decision(small_world: Path) -> None:
    """A restored engine goes on exactly as one that never stopped."""
    lines = _lines(small_world)
    half = len(lines) // 2
    engine, _ = _engine_after(small_world, half)
    key = b"k" * 32
    shared = load(dump(engine.shared_state(), key), key)
    employees = {e: load(dump(engine.employee_state(e), key), key) for e in engine.employees}
    # The shared peer table is kept apart from the engine's state (a service
    # rebuilds it from its topic); it round-trips through a snapshot too.
    table = load(dump(engine.peer_table, key), key)
    assert isinstance(table, PeerTable) and table.groups
    directory, _, _ = load_directory(iter_lines(str(small_world / "employees.jsonl")))
    fresh = Engine(Settings(), directory, clock=lambda: 0.0, peer_table=table)
    fresh.load_state(shared, employees)
    again = [a.to_dict() for raw in lines[half:] for a in _process(fresh, raw)]
    _, full = _engine_after(small_world)
    whole = [orjson.loads(x) for x in full]
    assert again == whole[len(whole) - len(again):]
    assert again, "the second half should decide something"


def _process(engine: Engine, raw: bytes) -> list[Action]:
    try:
        ev = parse_event(raw)
    except InvalidRecord:
        return []
    return engine.process(ev)


def test_a_modified_byte_or_another_key_is_refused() -> None:
    blob = dump({"watermark": 1.0}, b"key-one")
    assert load(blob, b"key-one") == {"watermark": 1.0}
    flipped = bytearray(blob)
    flipped[-3] ^= 0x01
    with pytest.raises(SnapshotError, match="signature"):
        load(bytes(flipped), b"key-one")
    with pytest.raises(SnapshotError, match="signature"):
        load(blob, b"key-two")
    with pytest.raises(SnapshotError, match="unsigned"):
        load(dump({"a": 1}), b"key-one")
    with pytest.raises(SnapshotError, match="magic"):
        load(b"\x80\x05junk", None)


def test_crafted_pickle_is_refused_without_running_it() -> None:
    marker = Path("/tmp/should-never-exist")
    marker.unlink(missing_ok=True)
    crafted = b"IDS1U" + pickle.dumps(_Boom(), protocol=5)
    with pytest.raises(SnapshotError, match=r"(posix|os)\.system"):
        load(crafted, None)
    getattr_gadget = b"IDS1U" + pickle.dumps(getattr, protocol=5)
    with pytest.raises(SnapshotError, match=r"builtins\.getattr"):
        load(getattr_gadget, None)
    assert not marker.exists()


def test_a_snapshot_naming_a_class_by_its_former_module_still_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checkpoints written before events and actions moved to detector.wire restore."""
    import sys

    from detector.wire import actions
    from detector.wire.actions import Reason

    reason = Reason("volume_action", "text", 12.5)
    with monkeypatch.context() as m:  # pickle it as the former module named it
        m.setitem(sys.modules, "detector.actions", actions)
        m.setattr(Reason, "__module__", "detector.actions")
        old = dump(reason)
    assert b"detector.actions" in old and b"detector.wire" not in old
    assert "detector.actions" not in sys.modules
    back = load(old)
    assert type(back) is Reason and back == reason
