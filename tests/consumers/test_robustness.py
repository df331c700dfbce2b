"""Input that tries to blind or mislead the detector: redelivered events,
timestamps from the future, and customer contact data smuggled into events."""

from __future__ import annotations

import io
import logging
import pickle
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from test_service import _finished, _keyed, _lines, _loaded, _with_directory, running

from consumers import logs
from consumers.broker import EmbeddedBroker
from consumers.metrics import ServiceCollector
from consumers.records import DLQ_CODE
from detector.engine import Engine
from detector.engine_state import RECENT_IDS
from detector.settings import Settings
from detector.wire.events import parse_event
from models.snapshot import dump, load
from tests.kafka_kit import add_ends, produce, read_topic, service_settings
from tests.worldkit import World, at, team


def _chunked_world() -> tuple[World, list[str]]:
    """Four weeks of ordinary work, then exports in chunks that only add up."""
    w = World(3)
    ids = team(w, n=8, days=35)
    for i in range(25):
        w.event(ids[2], at(30, 9) + (at(30, 9, 15) - at(30, 9)) * i, "export", 40)
    return w, ids


def _sorted_events(w: World) -> list[bytes]:
    from datetime import datetime

    evs = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    return [orjson.dumps(e) for e in evs]


def _engine(w: World) -> Engine:
    from detector.directory import Directory
    from detector.wire.employees import parse_employee

    d = Directory()
    for rec in w.records:
        d.add(parse_employee(orjson.dumps(rec)))
    return Engine(Settings(), d, clock=lambda: 0.0)


def _run(engine: Engine, raws: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in raws:
        out.extend(a.to_dict() for a in engine.process(parse_event(raw)))
    return out


def _slots(obj: object) -> dict[str, Any]:
    names = [n for k in type(obj).__mro__ for n in getattr(k, "__slots__", ())]
    # ``job`` caches which directory record object was last seen: identity, not learning.
    return {n: getattr(obj, n) for n in names if n != "job" and hasattr(obj, n)}


def _learned(engine: Engine) -> bytes:
    state = ({e: _slots(b) for e, b in sorted(engine.employees.items())},
             {g: _slots(b) for g, b in sorted(engine.peers.items())}, _slots(engine.glob))
    return pickle.dumps(state, protocol=5)


def test_a_duplicate_flood_changes_nothing() -> None:
    w, ids = _chunked_world()
    raws = _sorted_events(w)
    clean = _engine(w)
    want = _run(clean, raws)
    assert any(a["employee_id"] == ids[2] for a in want), "the chunks should be alerted"

    flooded = _engine(w)
    stream: list[bytes] = []
    for raw in raws:
        stream += [raw, raw, raw]  # a producer retrying every record twice
    mine = [r for r in raws if orjson.loads(r)["employee_id"] == ids[2]]
    stream += mine[-RECENT_IDS // 2:]  # and a batch of one employee's events sent again later
    got = _run(flooded, stream)
    assert got == want
    assert _learned(flooded) == _learned(clean)
    dup = sum(n for (_, outcome), n in flooded.counters.outcomes.items()
              if outcome == "duplicate")
    assert dup == 2 * len(raws) + RECENT_IDS // 2


def test_duplicates_are_still_recognised_after_a_checkpoint_restore() -> None:
    w, _ = _chunked_world()
    raws = _sorted_events(w)
    first = _engine(w)
    _run(first, raws[:-10])
    restored = _engine(w)
    shared = load(dump(first.shared_state()))
    employees = {e: load(dump(first.employee_state(e))) for e in first.employees}
    restored.load_state(shared, employees)
    before = _learned(restored)
    assert _run(restored, raws[-20:-10]) == []
    assert _learned(restored) == before, "a redelivered event was learned twice"


def test_a_new_event_id_with_the_same_content_is_scored() -> None:
    """Dedupe is by event id: two real exports that look alike both count."""
    w, _ = _chunked_world()
    raws = _sorted_events(w)
    engine = _engine(w)
    _run(engine, raws)
    doc = orjson.loads(raws[-1])
    n = engine.counters.events
    for i in range(2):
        doc["event_id"] = f"again-{i}"
        engine.process(parse_event(orjson.dumps(doc)))
    assert engine.counters.events == n + 2
    assert not any(o == "duplicate" for (_, o) in engine.counters.outcomes)


# -- through the service -------------------------------------------------------------


def _with_contact_data(raw: bytes) -> bytes:
    """Customers carrying a name, an email and a phone (the schema lets a producer
    add fields to a customer object); the detector must never repeat them."""
    doc = orjson.loads(raw)
    if isinstance(doc, dict) and isinstance(doc.get("customers"), list):
        for c in doc["customers"]:
            if isinstance(c, dict) and "id" in c:
                n = c["id"].removeprefix("C-")
                c.update(name=f"Customer Name{n}", email=f"buyer{n}@customer.example",
                         phone=f"+1-555-01{n[-4:]:0>4}")
    return orjson.dumps(doc)


def _burst_of_listed_exports(events: list[bytes]) -> list[bytes]:
    """Twelve copies, a minute apart, of the last export that lists its customers,
    after its employee's last event: a chunked burst whose reason must name none."""
    docs = [orjson.loads(raw) for raw in events if raw.startswith(b"{")]
    docs = [d for d in docs if isinstance(d, dict) and isinstance(d.get("timestamp"), str)]
    pick = next(d for d in reversed(docs) if d.get("action") == "export"
                and d.get("customers") and int(d.get("record_count") or 0) >= 20)
    mine = [d["timestamp"] for d in docs if d.get("employee_id") == pick["employee_id"]]
    last = max(datetime.fromisoformat(t) for t in mine)
    out = []
    for i in range(12):
        copy = dict(pick, event_id=f"burst-{i}",
                    timestamp=(last + timedelta(minutes=1 + i)).isoformat())
        out.append(orjson.dumps(copy))
    return out


def test_no_customer_id_name_email_or_phone_in_any_output(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    """Every alert (native and OCSF), freeze, release, log line and metric of a run."""
    events = [_with_contact_data(raw) if raw.startswith(b"{") else raw
              for raw in _lines(small_world / "events.jsonl")]
    events += _burst_of_listed_exports(events)
    secrets: set[str] = set()
    for raw in events:
        for c in (orjson.loads(raw).get("customers") or []) if raw.startswith(b"{") else []:
            if isinstance(c, dict):
                secrets |= {str(c.get(k)) for k in ("id", "name", "email", "phone") if c.get(k)}
    assert len(secrets) > 1000
    texts: list[str] = []
    for fmt in ("native", "ocsf"):
        s = service_settings(broker, partitions=2, alert_format=fmt)
        _with_directory(s, broker, small_world)
        ends = produce(broker.bootstrap, s.topics.events, _keyed(events))
        stream = io.StringIO()
        logs.setup("DEBUG", stream)
        try:
            with running(s) as svc:
                _finished(svc, s, ends)
                registry = CollectorRegistry()
                registry.register(ServiceCollector(svc))
                texts.append(generate_latest(registry).decode())
        finally:
            logging.getLogger("insider").handlers.clear()
        texts.append(stream.getvalue())
        alerts = read_topic(broker.bootstrap, s.topics.alerts)
        freezes = read_topic(broker.bootstrap, s.topics.freeze_commands)
        assert alerts and freezes
        if fmt == "native":
            # The reasons that count look-ups and changes by customer are in the scan.
            found = {r["code"] for m in alerts for r in orjson.loads(m.value)["reasons"]}
            assert {"repeated_lookups", "mass_delete", "export_burst"} <= found, found
            locks = {r["code"] for m in freezes for r in orjson.loads(m.value)["reasons"]}
            assert locks & {"offboarding_last_day", "offboarding_terminated"}, locks
        texts += [m.value.decode() for m in alerts + freezes]
    blob = "\n".join(texts)
    assert "@customer.example" not in blob and "Customer Name" not in blob
    tokens = set(re.findall(r"[A-Za-z0-9@.+_-]+", blob))
    leaked = sorted(secrets & tokens)
    assert not leaked, leaked[:5]


def test_events_from_the_future_are_dead_lettered_and_do_not_end_freezes(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s, events, ends = _loaded(broker, small_world, 1)
    with running(s) as svc:
        _finished(svc, s, ends)
        task = next(iter(svc.tasks.values()))
        before = task.engine.watermark
        doc = orjson.loads(next(r for r in events if r.startswith(b"{")))
        doc.update(event_id="from-2099", timestamp="2099-01-01T00:00:00Z")
        add_ends(ends, produce(broker.bootstrap, s.topics.events,
                               [(doc["employee_id"].encode(), orjson.dumps(doc))]))
        _finished(svc, s, ends)
        assert task.engine.watermark == before
        assert svc.stats.rejects.get("future_timestamp") == 1
    dlq = [m for m in read_topic(broker.bootstrap, s.topics.dead_letter)
           if dict(m.headers).get(DLQ_CODE) == b"future_timestamp"]
    assert len(dlq) == 1 and orjson.loads(dlq[0].value)["event_id"] == "from-2099"
