"""Baseline bundles: faithful round trips, refusal of anything modified, and the CLI."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import pickle
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumers.cli import main
from detector import bundles
from detector.analysis.evaluation import evaluate
from detector.directory import Directory
from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.partitioning import partition_for
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.events import Event, parse_event
from detector.wire.jsonl import iter_lines
from models import snapshot
from models.baseline import EmployeeBaseline, PeerBaseline
from models.bundle import BundleError
from models.peer_table import PeerTable
from tests.worldkit import World, at, team

KEY = b"k" * 32
SPLIT = 2 / 3  # share of the world's events that the bundle is fit on


def _lines(world: Path) -> list[bytes]:
    return [raw for _, raw in iter_lines(str(world / "events.jsonl"))]


def _directory(world: Path) -> Directory:
    return load_directory(iter_lines(str(world / "employees.jsonl")))[0]


def _parsed(lines: list[bytes]) -> list[Event]:
    out = []
    for raw in lines:
        with contextlib.suppress(InvalidRecord):
            out.append(parse_event(raw))
    return out


def _fit(world: Path) -> tuple[Engine, list[bytes], list[bytes]]:
    """An engine that learned the first part of the world, and both parts' lines."""
    lines = _lines(world)
    cut = int(len(lines) * SPLIT)
    _, engines = replay(Settings(), enumerate(lines[:cut], 1), _directory(world),
                        lambda _: None, clock=lambda: 0.0)
    return engines[0], lines[:cut], lines[cut:]


def _table_state(table: PeerTable) -> dict[str, bytes]:
    """A shared peer table's learned state, part by part (pickled for comparing)."""
    return {name: pickle.dumps(getattr(table, name))
            for name in ("groups", "folded_day", "pending", "members", "exported", "elevated")}


def _decide(engine: Engine, events: list[Event]) -> list[dict[str, Any]]:
    out: list[Action] = []
    for ev in events:
        out.extend(engine.process(ev))
    return [a.to_dict() for a in out]


def _learned(baselines: dict[str, EmployeeBaseline] | dict[str, PeerBaseline]) -> dict[
        str, dict[str, bytes]]:
    """Baselines' learned state, attribute by attribute, for comparing two engines.

    Attributes are pickled one by one because how objects happen to share
    strings changes a whole pickle's bytes, not its meaning; an employee's
    ``job`` loses the id of the directory record last seen.
    """
    out = {}
    for name, b in baselines.items():
        state = b.__getstate__()
        if "job" in state:
            state["job"] = state["job"][1]
        out[name] = {k: pickle.dumps(v) for k, v in state.items()}
    return out


def _bundle_of(engine: Engine, lines: list[bytes], **kw: Any) -> bundles.Bundle:
    events = _parsed(lines)
    return bundles.build_bundle(engine, settings=Settings(), events=len(events),
                                first_ts=min(e.ts for e in events),
                                last_ts=max(e.ts for e in events), **kw)


@pytest.fixture(scope="module")
def fitted(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    engine, first, rest = _fit(small_world)
    path = tmp_path_factory.mktemp("bundle") / "fit.bundle"
    built = _bundle_of(engine, first, notes="first part")
    bundles.save(built, path)
    return {"engine": engine, "first": first, "rest": rest, "path": path, "built": built}


# -- round trip ---------------------------------------------------------------


def test_round_trip_keeps_every_decision(small_world: Path, fitted: dict[str, Any]) -> None:
    """An engine from the saved bundle decides exactly as one given the learned objects."""
    engine: Engine = fitted["engine"]
    rest = _parsed(fitted["rest"])
    # The shared peer table is the engine's peer and population state; an
    # engine starts from a fitted one by seeding its own with it.
    assert engine.peer_table is not None
    table = PeerTable(engine.peer_table.member_cap, engine.peer_table.day_decay)
    assert table.seed(engine.peer_table, "in memory")
    in_memory = Engine(Settings(), _directory(small_world), clock=lambda: 0.0,
                       peer_table=table)
    in_memory.employees = copy.deepcopy(engine.employees)
    loaded = bundles.load(fitted["path"])
    from_file = bundles.engine_from(loaded, Settings(), _directory(small_world),
                                    clock=lambda: 0.0)

    expected = _decide(in_memory, rest)
    got = _decide(from_file, rest)
    assert got == expected
    assert any(a["type"] == "alert" for a in got), "the rest of the world should raise alerts"
    cold = _decide(Engine(Settings(), _directory(small_world), clock=lambda: 0.0), rest)
    assert cold != got, "a cold engine should decide otherwise: the bundle must carry state"
    assert loaded.checksum == fitted["built"].checksum
    assert loaded.version == loaded.checksum[:12] and not loaded.signed


def test_engines_from_one_bundle_share_nothing(small_world: Path, fitted: dict[str, Any]) -> None:
    loaded = bundles.load(fitted["path"])
    directory = _directory(small_world)
    a = bundles.engine_from(loaded, Settings(), directory, clock=lambda: 0.0)
    b = bundles.engine_from(loaded, Settings(), directory, clock=lambda: 0.0)
    _decide(a, _parsed(fitted["rest"]))
    assert pickle.dumps(b.employees) == pickle.dumps(bundles.engine_from(
        bundles.load(fitted["path"]), Settings(), directory).employees)
    assert pickle.dumps(a.employees) != pickle.dumps(b.employees)


def test_metadata_describes_the_history(fitted: dict[str, Any]) -> None:
    events = _parsed(fitted["first"])
    m = bundles.load(fitted["path"]).metadata
    assert m.events == len(events)
    assert m.employees == len({e.employee_id for e in events}) == len(fitted["engine"].employees)
    assert datetime.fromisoformat(m.first_event or "").timestamp() == pytest.approx(
        min(e.ts for e in events), abs=1e-3)
    assert datetime.fromisoformat(m.last_event or "").timestamp() == pytest.approx(
        max(e.ts for e in events), abs=1e-3)
    assert m.settings == bundles.settings_record(Settings())
    assert m.settings["decisions"]["freeze"] == 75.0
    assert m.notes == "first part" and m.partitions == 1 and m.evaluation is None
    assert "kafka" not in m.settings and "service" not in m.settings


def test_apply_to_replaces_baselines_and_keeps_decisions() -> None:
    """A live engine keeps its incidents and unknown employees; the bundle's employees move in."""
    w = World(seed=3)
    ids = team(w, n=4, days=14)
    w.event(ids[0], at(15, 3), "export", 9000, {"DE-North": 9000})
    _, live = w.run()
    assert live.incidents.open, "the late-night export should have opened an incident"
    donor = Engine(Settings(), live.directory)
    donor.employees = {ids[1]: EmployeeBaseline(), "E999": EmployeeBaseline()}
    bundle = bundles.build_bundle(donor, settings=Settings(), events=0, first_ts=None,
                                  last_ts=None)
    incidents = pickle.dumps(live.incidents.state())
    kept = live.employees[ids[2]]
    live.take_dirty()
    assert bundles.apply_to(bundle, live, only=lambda e: e != "E999") == 1
    assert live.employees[ids[1]].n_events == 0
    assert live.employees[ids[2]] is kept and "E999" not in live.employees
    assert pickle.dumps(live.incidents.state()) == incidents
    assert live.take_dirty() == {ids[1]}
    with pytest.raises(BundleError, match="partition"):
        bundles.apply_to(bundle, live, partition=1)


def test_settings_differences_name_the_setting(fitted: dict[str, Any]) -> None:
    from detector.settings import load_settings

    loaded = bundles.load(fitted["path"])
    assert bundles.settings_differences(loaded, Settings()) == []
    changed = load_settings(None, {"INSIDER_DECISIONS__ALERT": "45"})
    (line,) = bundles.settings_differences(loaded, changed)
    assert line.startswith("decisions.alert: 40.0 in the bundle, 45.0 now")


# -- refusals ------------------------------------------------------------------


def _small_bundle(key: bytes | None = None) -> bytes:
    """A real bundle small enough to damage at every header byte."""
    w = World(seed=5)
    team(w, n=2, days=5)
    _, engine = w.run()
    bundle = bundles.build_bundle(engine, settings=Settings(), events=len(w.events),
                                  first_ts=0.0, last_ts=1.0, notes="café ✓")
    return bundles.encode(bundle, key)


def _header_end(data: bytes) -> int:
    return 12 + int.from_bytes(data[8:12], "big")


@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
def test_any_modified_byte_is_refused(key: bytes | None) -> None:
    data = _small_bundle(key)
    assert bundles.decode(data, key).metadata.notes == "café ✓"
    end = _header_end(data)
    positions = [*range(end), *range(end, len(data), max(1, (len(data) - end) // 97)),
                 len(data) - 1]
    for pos in positions:
        for flip in (0x01, 0x20, 0x80):
            bad = bytearray(data)
            bad[pos] ^= flip
            with pytest.raises(BundleError):
                bundles.decode(bytes(bad), key)
    payload = bytearray(data)
    payload[end + 40] ^= 0x01
    with pytest.raises(BundleError, match="checksum"):
        bundles.decode(bytes(payload), key)
    checksum = data.index(b'"sha256":"') + len(b'"sha256":"')
    digest = bytearray(data)
    digest[checksum] = ord("0") if digest[checksum] != ord("0") else ord("1")
    with pytest.raises(BundleError, match="checksum"):
        bundles.decode(bytes(digest), key)
    with pytest.raises(BundleError, match="magic"):
        bundles.decode(b"\x00" + data[1:], key)


def test_a_truncated_bundle_is_refused() -> None:
    data = _small_bundle()
    end = _header_end(data)
    cuts = [*range(1, end + 1), *range(end, len(data), max(1, (len(data) - end) // 50)),
            len(data) - 1]
    for cut in cuts:
        with pytest.raises(BundleError, match="truncated"):
            bundles.decode(data[:cut])
    with pytest.raises(BundleError, match="not a baseline bundle"):
        bundles.decode(b"")
    with pytest.raises(BundleError, match="unexpected bytes"):
        bundles.decode(data + b"\n")


def _reheader(data: bytes, change: dict[str, Any]) -> bytes:
    """The same bundle with header fields changed and the header kept canonical."""
    end = _header_end(data)
    header = orjson.loads(data[12:end])
    header.update(change)
    raw = orjson.dumps(header, option=orjson.OPT_SORT_KEYS)
    return data[:8] + len(raw).to_bytes(4, "big") + raw + data[end:]


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    data = _small_bundle()
    with pytest.raises(BundleError, match="format 2 is not supported"):
        bundles.decode(_reheader(data, {"format": 2}))
    with pytest.raises(BundleError, match="state snapshot"):
        bundles.decode(snapshot.dump({"watermark": 1.0}))
    with pytest.raises(BundleError, match="not a baseline bundle"):
        bundles.decode(b'{"format": 1}')
    with pytest.raises(BundleError, match="canonical"):
        end = _header_end(data)
        spaced = data[12:end].replace(b'{"format"', b'{ "format"', 1)
        bundles.decode(data[:8] + len(spaced).to_bytes(4, "big") + spaced + data[end:])
    with pytest.raises(BundleError, match="no such file"):
        bundles.load(tmp_path / "missing.bundle")
    # A field this version does not know is refused, even under a valid checksum.
    end = _header_end(data)
    header = orjson.loads(data[12:end])
    header["metadata"]["source"] = "elsewhere"
    sealed = orjson.dumps({k: header[k] for k in ("format", "metadata", "payload_bytes")},
                          option=orjson.OPT_SORT_KEYS)
    header["sha256"] = hashlib.sha256(sealed + data[end:]).hexdigest()
    with pytest.raises(BundleError, match=r"metadata\.source is not part of format 1"):
        bundles.decode(_reheader(data, header))


def test_signatures() -> None:
    signed, unsigned = _small_bundle(KEY), _small_bundle()
    assert bundles.decode(signed, KEY).signed
    with pytest.raises(BundleError, match="needs the signing key"):
        bundles.decode(signed)
    with pytest.raises(BundleError, match="does not match"):
        bundles.decode(signed, b"another key")
    with pytest.raises(BundleError, match="unsigned"):
        bundles.decode(unsigned, KEY)
    # Dropping the signature is a modification like any other.
    with pytest.raises(BundleError, match="unsigned"):
        bundles.decode(_reheader(signed, {"hmac_sha256": None}), KEY)
    # Showing needs no key; it says whether the signature was checked.
    assert not bundles.describe(signed).signature_checked
    assert bundles.describe(signed, KEY).signature_checked


def _forged(payload: bytes, key: bytes | None = None) -> bytes:
    """What an attacker who knows the format writes: a valid header around any payload."""
    meta = bundles.Metadata(
        created_at="2026-01-01T00:00:00Z", first_event=None, last_event=None, events=0,
        employees=0, peer_groups=0, partitions=1, settings={}, evaluation=None, notes="",
        detector_version="0",
    )
    return bundles.encode(bundles.Bundle(meta, payload), key)


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


class _System:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo should-never-run",))


def test_a_crafted_payload_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # The gadget is real: plain pickle runs it.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Exec(proof)))
    assert proof.exists()

    gadget = b"IDS1U" + pickle.dumps({"partitions": [_Exec(marker)]}, protocol=5)
    crafted = _forged(gadget)
    with pytest.raises(BundleError, match=r"payload refused.*builtins\.exec"):
        bundles.decode(crafted)
    with pytest.raises(BundleError, match=r"(posix|os)\.system"):
        bundles.decode(_forged(b"IDS1U" + pickle.dumps(_System(), protocol=5)))
    # With a key, the unsigned forgery is refused before anything is unpickled,
    # and so is one signed with the attacker's own key.
    with pytest.raises(BundleError, match="unsigned"):
        bundles.decode(crafted, KEY)
    with pytest.raises(BundleError, match="does not match"):
        bundles.decode(_forged(gadget, b"attacker"), KEY)
    path = tmp_path / "crafted.bundle"
    path.write_bytes(crafted)
    assert main(["baseline", "publish", str(path), "--to", str(tmp_path / "pub")]) == 2
    assert not (tmp_path / "pub" / bundles.PUBLISHED_NAME).exists()
    assert not marker.exists()


def test_allowed_objects_of_the_wrong_shape_are_refused() -> None:
    shapes: list[Any] = [
        [],
        {"partitions": []},
        {"partitions": [{"employees": {"E1": 5}, "peers": {}, "glob": None}]},
        {"partitions": [{"employees": {}, "peers": {}, "glob": EmployeeBaseline()}]},
    ]
    for shape in shapes:
        with pytest.raises(BundleError, match="payload"):
            bundles.decode(_forged(snapshot.dump(shape)))


# -- the CLI -------------------------------------------------------------------


def _split_files(small_world: Path, fitted: dict[str, Any], tmp: Path) -> tuple[Path, Path]:
    first, rest = tmp / "first.jsonl", tmp / "rest.jsonl"
    first.write_bytes(b"\n".join(fitted["first"]) + b"\n")
    rest.write_bytes(b"\n".join(fitted["rest"]) + b"\n")
    return first, rest


def _labels_of_period(labels: dict[str, Any], events: list[Event]) -> dict[str, Any]:
    lo, hi = min(e.ts for e in events), max(e.ts for e in events)

    def when(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    def overlaps(case: dict[str, Any]) -> bool:
        return when(case["start"]) <= hi and when(case["end"]) >= lo

    return {**labels, "scenarios": [s for s in labels["scenarios"] if overlaps(s)],
            "benign": [b for b in labels.get("benign", []) if overlaps(b)],
            "days": math.ceil((hi - lo) / 86400)}


def test_cli_fit_show_evaluate_publish(small_world: Path, fitted: dict[str, Any],
                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, rest = _split_files(small_world, fitted, tmp_path)
    directory = str(small_world / "employees.jsonl")
    labels_path = str(small_world / "labels.json")
    out = tmp_path / "b.bundle"
    assert main(["baseline", "fit", "--events", str(first), "--directory", directory,
                 "--out", str(out), "--notes", "weeks 1-2", "--labels", labels_path]) == 0
    version = bundles.load(out).version
    assert f"bundle {version} -> {out}" in capsys.readouterr().out

    # The CLI's fit learns what replay learns.
    assert _learned(bundles.load(out).baselines()[0].employees) == _learned(
        fitted["engine"].employees)

    assert main(["baseline", "show", str(out)]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["version"] == version and shown["notes"] == "weeks 1-2"
    assert shown["events"] == len(_parsed(fitted["first"]))
    assert shown["employees"] == 40 and not shown["signed"]
    assert shown["settings"] == bundles.settings_record(Settings())
    assert 0.0 <= shown["evaluation"]["recall"] <= 1.0
    assert isinstance(shown["evaluation"]["missed"], int), "metadata names no employee"

    assert main(["baseline", "evaluate", str(out), "--events", str(rest), "--directory",
                 directory, "--labels", labels_path, "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)

    # The same figures, computed directly from an engine loaded from the bundle.
    rest_events = _parsed(fitted["rest"])
    engine = bundles.engine_from(bundles.load(out), Settings(), _directory(small_world))
    actions = _decide(engine, rest_events)
    labels = orjson.loads((small_world / "labels.json").read_bytes())
    direct = evaluate(_labels_of_period(labels, rest_events), actions)
    ev = report["evaluation"]
    assert direct.scenarios, "the evaluated period should hold scenarios"
    assert ev["recall"] == round(direct.recall, 4)
    assert ev["precision"] == round(direct.precision, 4)
    assert ev["scenarios"] == len(direct.scenarios)
    assert {k: (v["detected"], v["total"]) for k, v in ev["by_kind"].items()} == direct.by_kind
    assert ev["median_minutes_to_detect"] == direct.median_minutes_to_detect
    assert ev["scenarios_outside"] == len(labels["scenarios"]) - len(direct.scenarios)
    alerts = sum(1 for a in actions if a["type"] == "alert")
    assert report["alerts"] == alerts > 0
    assert sum(d["alerts"] for d in report["per_day"].values()) == alerts
    assert report["events"] == len(rest_events) and report["bundle"]["version"] == version

    assert main(["baseline", "evaluate", str(out), "--events", str(rest), "--directory",
                 directory, "--labels", labels_path]) == 0
    text = capsys.readouterr().out
    assert f"recall {direct.recall:.3f} ({sum(r.detected for r in direct.scenarios)}/" in text
    assert "day (UTC, event time)" in text

    pub = tmp_path / "pub"
    assert main(["baseline", "publish", str(out), "--to", str(pub)]) == 0
    assert f"published {version} -> {pub / 'current.bundle'}" in capsys.readouterr().out
    assert (pub / "current.bundle").read_bytes() == out.read_bytes()

    # A damaged bundle is refused with a message, and the published one stays.
    bad = tmp_path / "bad.bundle"
    data = bytearray(out.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    for argv in (["publish", str(bad), "--to", str(pub)], ["show", str(bad)],
                 ["evaluate", str(bad), "--events", str(rest), "--directory", directory]):
        assert main(["baseline", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "checksum" in err and "Traceback" not in err
    assert (pub / "current.bundle").read_bytes() == out.read_bytes()
    assert sorted(p.name for p in pub.iterdir()) == ["current.bundle"]
    (tmp_path / "cut.bundle").write_bytes(out.read_bytes()[:500])
    assert main(["baseline", "show", str(tmp_path / "cut.bundle")]) == 2
    assert "truncated" in capsys.readouterr().err


def test_cli_signs_with_the_state_key(small_world: Path, fitted: dict[str, Any],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    first, rest = _split_files(small_world, fitted, tmp_path)
    directory = str(small_world / "employees.jsonl")
    out = tmp_path / "signed.bundle"
    key_file = tmp_path / "key"
    key_file.write_text("a-secret\n")
    monkeypatch.setenv("INSIDER_SERVICE__STATE_KEY_FILE", str(key_file))
    assert main(["baseline", "fit", "--events", str(first), "--directory", directory,
                 "--out", str(out)]) == 0
    assert "signed" in capsys.readouterr().out
    assert bundles.load(out, b"a-secret").signed
    assert main(["baseline", "show", str(out)]) == 0
    assert orjson.loads(capsys.readouterr().out)["signature_checked"] is True

    monkeypatch.setenv("INSIDER_SERVICE__STATE_KEY_FILE", "")
    monkeypatch.setenv("INSIDER_SERVICE__STATE_KEY", "another")
    assert main(["baseline", "publish", str(out), "--to", str(tmp_path / "pub")]) == 2
    assert "does not match" in capsys.readouterr().err
    monkeypatch.delenv("INSIDER_SERVICE__STATE_KEY")
    assert main(["baseline", "evaluate", str(out), "--events", str(rest), "--directory",
                 directory]) == 2
    assert "needs the signing key" in capsys.readouterr().err
    assert main(["baseline", "show", str(out)]) == 0
    assert orjson.loads(capsys.readouterr().out)["signature_checked"] is False


def test_cli_fit_with_partitions(small_world: Path, fitted: dict[str, Any],
                                 tmp_path: Path) -> None:
    first, _ = _split_files(small_world, fitted, tmp_path)
    directory = str(small_world / "employees.jsonl")
    out = tmp_path / "p3.bundle"
    assert main(["baseline", "fit", "--events", str(first), "--directory", directory,
                 "--out", str(out), "--partitions", "3"]) == 0
    loaded = bundles.load(out)
    assert loaded.metadata.partitions == 3
    engines = bundles.engines_from(loaded, Settings(), _directory(small_world))
    assert len(engines) == 3
    for p, engine in enumerate(engines):
        assert engine.employees
        assert all(partition_for(e, 3) == p for e in engine.employees)
    # The same state as replay --partitions 3 over the same events.
    _, replayed = replay(Settings(), enumerate(fitted["first"], 1), _directory(small_world),
                         lambda _: None, partitions=3)
    for ours, theirs in zip(engines, replayed, strict=True):
        assert _learned(ours.employees) == _learned(theirs.employees)
    # One peer table for all partitions, as replay's engines share one.
    assert len({id(e.peer_table) for e in engines}) == 1
    ours_table, theirs_table = engines[0].peer_table, replayed[0].peer_table
    assert ours_table is not None and theirs_table is not None
    # Loading a bundle folds what the fit had not made visible yet (PeerTable.seed).
    seeded = PeerTable(theirs_table.member_cap, theirs_table.day_decay)
    seeded.seed(theirs_table, "replayed")
    assert ours_table.groups and _table_state(ours_table) == _table_state(seeded)
