"""The service and published bundles, against a real broker: loaded at start,
swapped while running, refused when damaged, not applied twice after a restart."""

from __future__ import annotations

import dataclasses
import io
import logging
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_service import (
    _comparable,
    _finished,
    _keyed,
    _lines,
    _published,
    _wait,
    _with_directory,
    running,
)

from consumers import logs
from consumers.broker import EmbeddedBroker
from consumers.service import Service
from detector import bundles
from detector.directory import Directory
from detector.partitioning import partition_for
from detector.replay import load_directory, replay
from detector.settings import DecisionSettings, Settings
from detector.wire.events import parse_event
from detector.wire.jsonl import iter_lines
from models.bundle import BundleError
from tests.kafka_kit import add_ends, produce, service_settings

PARTITIONS = 2


def _split(world: Path) -> tuple[list[bytes], list[bytes]]:
    events = _lines(world / "events.jsonl")
    cut = len(events) * 2 // 3
    return events[:cut], events[cut:]


def _directory(world: Path) -> Directory:
    return load_directory(iter_lines(str(world / "employees.jsonl")))[0]


def _fit(world: Path, events: list[bytes], settings: Settings,
         partitions: int = PARTITIONS) -> bundles.Bundle:
    _, engines = replay(settings, enumerate(events, 1), _directory(world), lambda _: None,
                        partitions=partitions)
    return bundles.build_bundle(engines, settings=settings, events=len(events),
                                first_ts=parse_event(events[0]).ts,
                                last_ts=parse_event(events[-1]).ts)


def _expected(world: Path, bundle: bundles.Bundle, events: list[bytes],
              settings: Settings) -> list[dict[str, Any]]:
    """What engines started from the bundle decide on ``events``, partition by partition."""
    engines = bundles.engines_from(bundle, settings, _directory(world), clock=lambda: 0.0)
    for e in engines:
        e.retune(settings.decisions, bundle.version)
    out = []
    for raw in events:
        try:
            ev = parse_event(raw)
        except ValueError:
            continue
        engine = engines[partition_for(ev.employee_id, PARTITIONS)]
        out += [_comparable(a.to_dict()) for a in engine.process(ev)]
    return out


def _start(broker: EmbeddedBroker, world: Path, path: Path, **kw: Any) -> Settings:
    s = service_settings(broker, partitions=PARTITIONS, bundle_path=str(path),
                         bundle_check_s=0.2, **kw)
    _with_directory(s, broker, world)
    return s


@pytest.fixture
def log_lines() -> Any:
    stream = io.StringIO()
    logs.setup("INFO", stream)
    try:
        yield lambda: [orjson.loads(x) for x in stream.getvalue().splitlines() if x]
    finally:
        logging.getLogger("insider").handlers.clear()


def test_the_service_starts_from_the_published_bundle_and_says_so(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    history, rest = _split(small_world)
    bundle = _fit(small_world, history, Settings())
    # The default: the bundle holds the fitted shared peer table, which every
    # process starts from (replay's engines share the unpickled one).
    assert Settings().scoring.shared_peers
    assert bundle.baselines()[0].table is not None
    path, _ = bundles.publish(_save(bundle, tmp_path), tmp_path / "published")
    s = _start(broker, small_world, path)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(rest))
    want = _expected(small_world, bundle, rest, s)
    assert want, "the rest of the world should raise actions"
    with running(s) as svc:
        _finished(svc, s, ends)
        assert all(t.engine.model_version == bundle.version for t in svc.tasks.values())
        from prometheus_client import CollectorRegistry, generate_latest

        from consumers.metrics import ServiceCollector

        reg = CollectorRegistry()
        reg.register(ServiceCollector(svc))
        text = generate_latest(reg).decode()
    got = _published(broker, s)
    key = lambda a: a["action_id"]  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
    assert {a["model_version"] for a in got} == {bundle.version}
    assert f'insider_bundle_info{{created_at="{bundle.metadata.created_at}"' in text
    assert f'version="{bundle.version}"' in text
    assert "insider_bundle_swaps_total 1.0" in text


def _save(bundle: bundles.Bundle, tmp_path: Path, name: str = "fit.bundle") -> Path:
    return bundles.save(bundle, tmp_path / name)


def test_a_bundle_published_while_running_is_swapped_in_with_its_thresholds(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path,
    log_lines: Any,
) -> None:
    history, rest = _split(small_world)
    strict = dataclasses.replace(Settings(), decisions=DecisionSettings(alert=50, medium=60))
    bundle = _fit(small_world, history, strict)
    published = tmp_path / "published" / bundles.PUBLISHED_NAME
    s = _start(broker, small_world, published)
    ends = produce(broker.bootstrap, s.topics.events, _keyed(history))
    with running(s) as svc:
        _finished(svc, s, ends)
        assert all(t.engine.model_version == "online" for t in svc.tasks.values())
        bundles.publish(_save(bundle, tmp_path), published.parent)
        _wait(lambda: all(t.engine.model_version == bundle.version
                          for t in svc.tasks.values()), what="the swap")
        assert all(t.engine.incidents.s.alert == 50 for t in svc.tasks.values())
        add_ends(ends, produce(broker.bootstrap, s.topics.events, _keyed(rest)))
        _finished(svc, s, ends)
    after = [a for a in _published(broker, s) if a.get("model_version") == bundle.version]
    assert after, "actions after the swap carry the bundle's version"
    assert all(a["score"] >= 50 for a in after if a["type"] == "alert")
    applied = [x for x in log_lines() if x["msg"] == "bundle applied"]
    assert {x["partition"] for x in applied} == {0, 1}
    # The live baselines had learned the same history as the bundle, up to its end.
    assert sum(x["replaced"] for x in applied) == bundle.metadata.employees
    assert sum(x["learned_since_discarded"] for x in applied) == 0

    # A restart restores baselines that already started from this bundle: not applied again.
    with running(s) as svc:
        _wait(lambda: len(svc.tasks) == PARTITIONS and svc.ready(), what="restore")
        assert all(t.engine.model_version == bundle.version for t in svc.tasks.values())
        assert all(t.engine.incidents.s.alert == 50 for t in svc.tasks.values())
    assert len([x for x in log_lines() if x["msg"] == "bundle applied"]) == len(applied)


def test_a_damaged_bundle_is_refused_at_start_and_while_running(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path, log_lines: Any,
) -> None:
    history, _ = _split(small_world)
    good = _fit(small_world, history[:2000], Settings())
    published = tmp_path / "published" / bundles.PUBLISHED_NAME
    bundles.publish(_save(good, tmp_path), published.parent)
    data = bytearray(published.read_bytes())
    data[-10] ^= 0xFF
    damaged = tmp_path / "damaged.bundle"
    damaged.write_bytes(bytes(data))

    bad_start = tmp_path / "bad-start" / bundles.PUBLISHED_NAME
    bad_start.parent.mkdir()
    shutil.copy(damaged, bad_start)
    s = _start(broker, small_world, bad_start)
    with pytest.raises(BundleError, match="refused"):
        Service(s).run()

    s = _start(broker, small_world, published)
    with running(s) as svc:
        _wait(lambda: svc.ready(), what="ready")
        shutil.copy(damaged, published)
        _wait(lambda: svc.bundles is not None and svc.bundles.refused == 1, what="refusal")
        assert all(t.engine.model_version == good.version for t in svc.tasks.values())
    refusals = [x for x in log_lines() if x["msg"] == "bundle refused"]
    assert refusals and "checksum" in refusals[-1]["why"]


def test_a_bundle_fit_on_another_partition_count_is_refused(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path, log_lines: Any
) -> None:
    history, _ = _split(small_world)
    odd = _fit(small_world, history[:2000], Settings(), partitions=3)
    path, _ = bundles.publish(_save(odd, tmp_path), tmp_path / "published")
    s = _start(broker, small_world, path)
    with pytest.raises(BundleError):
        Service(s).run()
    why = [x["why"] for x in log_lines() if x["msg"] == "bundle refused"]
    assert why and "fit on 3 partitions" in why[0] and "--partitions 2" in why[0]


def test_a_one_partition_bundle_is_split_across_the_tasks(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    history, _ = _split(small_world)
    one = _fit(small_world, history, Settings(), partitions=1)
    path, _ = bundles.publish(_save(one, tmp_path), tmp_path / "published")
    s = _start(broker, small_world, path)
    with running(s) as svc:
        _wait(lambda: len(svc.tasks) == PARTITIONS and svc.ready(), what="ready")
        held = {p: set(t.engine.employees) for p, t in svc.tasks.items()}
    everyone = set(one.baselines()[0].employees)
    assert held[0] | held[1] == everyone and not held[0] & held[1]
    assert all(partition_for(e, PARTITIONS) == p for p, emps in held.items() for e in emps)


def test_a_bundle_fit_with_per_partition_peers_is_refused(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path, log_lines: Any
) -> None:
    """Its peer baselines would replace the shared table's handles: refused, not half applied."""
    history, _ = _split(small_world)
    per_engine = dataclasses.replace(
        Settings(), scoring=dataclasses.replace(Settings().scoring, shared_peers=False))
    old = _fit(small_world, history[:2000], per_engine)
    assert old.baselines()[0].table is None
    path, _ = bundles.publish(_save(old, tmp_path), tmp_path / "published")
    s = _start(broker, small_world, path)
    with pytest.raises(BundleError):
        Service(s).run()
    why = [x["why"] for x in log_lines() if x["msg"] == "bundle refused"]
    assert why and "scoring.shared_peers = false" in why[0]
