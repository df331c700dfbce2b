"""A small world for the report's tests: four weeks of a sales team, then four cases
(an off-hours bulk export, an out-of-territory export, an export that lists its
customers and is released by an analyst, a leaver under notice, a leaver whose
last day ends and whose data access is locked), run through the
real engine with an analyst's commands, written as the files a report reads,
with a keyed audit trail per partition and its published heads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson

from detector.audit import ACTION, COMMAND, AuditLog
from detector.directory import Directory
from detector.engine import Engine
from detector.partitioning import partition_for
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from tests.worldkit import START, World, at, employee, team

PARTITIONS = 2
EVENTS_TOPIC = "crm.access-events"
LISTED = [f"CUST-{i:05d}" for i in range(300)]  # the customers one export lists by id


@dataclass(frozen=True, slots=True)
class ReportWorld:
    root: Path
    events: Path
    directory: Path
    actions: Path
    audit_dir: Path
    heads: Path
    audit_key: Path
    action_docs: list[dict[str, Any]]
    customer_ids: set[str]  # every customer id any event carries


def build_world() -> World:
    w = World(seed=5)
    ids = team(w, n=8, days=35)
    leaver = "E200"
    w.add(employee(leaver))
    w.add(employee(leaver, updated=START + timedelta(days=20), status="notice",
                   notice_date=(START + timedelta(days=20)).date().isoformat(),
                   last_day=(START + timedelta(days=50)).date().isoformat()))
    w.workdays(leaver, 0, 35)
    gone = "E201"  # leaves quietly: locked when the last day ends, never used after it
    w.add(employee(gone))
    w.add(employee(gone, updated=START + timedelta(days=10), status="notice",
                   notice_date=(START + timedelta(days=10)).date().isoformat(),
                   last_day=(START + timedelta(days=24)).date().isoformat()))
    w.workdays(gone, 0, 25)
    for day in (28, 29, 30, 31, 32):
        w.event(leaver, at(day, 16, 30), "export", 260 + 40 * day % 7, {"DE-North": 260})
    w.event(ids[0], at(30, 2, 14), "export", 4812,
            {"DE-North": 612, "FR-Paris": 2100, "UK-London": 2100},
            tiers={"high": 1900, "medium": 1712, "low": 1200})
    w.event(ids[1], at(30, 11), "export", 400, {"DE-North": 40, "FR-Paris": 360})
    w.event(ids[2], at(31, 1, 30), "export", 900, {"DE-North": 100, "FR-Paris": 800},
            customers=[{"id": cid, "territory": "FR-Paris", "tier": "high"} for cid in LISTED])
    return w


def run(w: World, settings: Settings | None = None
        ) -> tuple[list[Action], list[tuple[str, dict[str, Any], str]]]:
    """Actions, and the commands applied (employee, command, event time), in order.

    E102's freeze is lifted by an analyst at 09:00 the next morning; E101's alert
    gets a false-positive verdict at noon.
    """
    directory = Directory()
    for rec in w.records:
        directory.add(parse_employee(orjson.dumps(rec)))
    engine = Engine(settings or Settings(), directory, clock=lambda: 0.0)
    pending = [(at(31, 9).timestamp(), "E102", "release"), (at(30, 12).timestamp(), "E101",
                                                            "false_positive")]
    pending.sort()
    actions: list[Action] = []
    commands: list[tuple[str, dict[str, Any], str]] = []
    for ev in sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"])):
        ts = datetime.fromisoformat(ev["timestamp"]).timestamp()
        while pending and pending[0][0] <= ts:
            when, eid, kind = pending.pop(0)
            stamp = datetime.fromtimestamp(when, UTC).isoformat()
            if kind == "release":
                doc = {"command": "release", "employee_id": eid, "reason": "manager confirmed",
                       "analyst": "sam"}
                actions.extend(engine.release(eid, "analyst", when))
            else:
                alert = next(a for a in actions if a.employee_id == eid and a.type == "alert")
                doc = {"command": "false_positive", "employee_id": eid,
                       "action_id": alert.action_id, "analyst": "sam"}
                actions.extend(engine.false_positive(eid, alert.action_id))
            commands.append((eid, doc, stamp))
        actions.extend(engine.process(parse_event(orjson.dumps(ev))))
    return actions, commands


def write_world(root: Path, w: World | None = None) -> ReportWorld:
    """The world's files, its actions, and a keyed audit trail per partition with heads."""
    w = w or build_world()
    actions, commands = run(w)
    root.mkdir(parents=True, exist_ok=True)
    events = root / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in w.events))
    directory = root / "employees.jsonl"
    directory.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in w.records))
    docs = [a.to_dict() for a in actions]
    actions_path = root / "actions.jsonl"
    actions_path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    key = root / "audit.key"
    key.write_text("audit-key-held-by-security-not-analysts\n")
    audit_dir = root / "audit"
    audit_dir.mkdir(exist_ok=True)
    for old in audit_dir.glob("*.audit.jsonl"):
        old.unlink()  # AuditLog appends: start each world's trails afresh
    entries: list[tuple[str, str, dict[str, Any], str]] = [
        (d["employee_id"], ACTION, d, d["event_time"]) for d in docs]
    entries += [(eid, COMMAND, doc, stamp) for eid, doc, stamp in commands]
    entries.sort(key=lambda e: datetime.fromisoformat(e[3].replace("Z", "+00:00")))
    heads: list[bytes] = []
    logs = {p: AuditLog.open(audit_dir / f"{EVENTS_TOPIC}-{p}.audit.jsonl", key.read_bytes()
                             .strip()) for p in range(PARTITIONS)}
    for i, (eid, kind, body, stamp) in enumerate(entries):
        p = partition_for(eid, PARTITIONS)
        logs[p].append(kind, body, stamp)
        if i % 3 == 2:
            seq, value = logs[p].mark_head(stamp)
            heads.append(orjson.dumps({"partition": p, "seq": seq, "hash": value, "at": stamp}))
    for p, log in logs.items():
        if log.head()[0] >= 0:
            seq, value = log.mark_head(entries[-1][3])
            heads.append(orjson.dumps({"partition": p, "seq": seq, "hash": value,
                                       "at": entries[-1][3]}))
        log.flush()
        log.close()
    heads_path = root / "heads.jsonl"
    heads_path.write_bytes(b"".join(h + b"\n" for h in heads))
    ids = {c["id"] for e in w.events for c in e.get("customers", [])}
    return ReportWorld(root, events, directory, actions_path, audit_dir, heads_path, key, docs,
                       ids)


class Page(HTMLParser):
    """What a rendered report shows: its text, the ``data-figure`` values, the incident
    rows and, per ``<svg>``, how many marks (bars) it drew."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text_parts: list[str] = []
        self.figures: dict[str, str] = {}
        self.incidents: list[str] = []
        self.svg_marks: list[int] = []
        self.partition_verdicts: list[str] = []
        self._open: list[tuple[str, str | None, bool]] = []  # (tag, figure, verdict)
        self._skip = 0
        self.feed(html)
        self.text = " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("style", "title"):
            self._skip += 1
        if tag == "svg":
            self.svg_marks.append(0)
        elif tag in ("rect", "path", "line") and self.svg_marks and "mark" in (a.get("class")
                                                                                or ""):
            self.svg_marks[-1] += 1
        if "data-incident" in a:
            self.incidents.append(str(a["data-incident"]))
        if tag not in ("br", "meta"):
            self._open.append((tag, a.get("data-figure"), "data-partition-verdict" in a))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1
        if not any(name == tag for name, _, _ in self._open):
            return
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text_parts.append(data)
        for _, figure, verdict in self._open:
            if figure is not None:
                self.figures[figure] = (self.figures.get(figure, "") + data).strip()
            if verdict:
                self.partition_verdicts.append(data)


def number(text: str) -> int:
    return int(text.replace(",", ""))
