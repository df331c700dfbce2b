"""A tiny hand-built CRM world for scenario tests: a few weeks of ordinary work
for a team, then one scripted case, fed through the real engine."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from detector.directory import Directory
from detector.engine import Engine
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday


def employee(eid: str, *, updated: datetime = START - timedelta(days=400), status: str = "active",
             role: str = "sales_rep", territories: list[str] | None = None,
             tz: str = "Europe/Berlin", start: str = "09:00", end: str = "17:00",
             days: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    rec = {
        "employee_id": eid, "updated_at": updated.isoformat(), "status": status, "role": role,
        "territories": territories or ["DE-North"], "timezone": tz,
        "working_hours": {"days": days or ["mon", "tue", "wed", "thu", "fri"],
                          "start": start, "end": end},
    }
    rec.update(extra)
    return rec


class World:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.records: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.n = 0

    def add(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)

    def event(self, eid: str, when: datetime, action: str, rows: int = 0,
              territories: dict[str, int] | None = None, **extra: Any) -> str:
        self.n += 1
        ev: dict[str, Any] = {
            "event_id": f"ev-{self.n:07d}", "timestamp": when.isoformat(), "employee_id": eid,
            "action": action, "device_id": f"dev-{eid}", "source_ip": f"10.0.{len(eid)}.7",
            "geo": {"country": "DE", "city": "Hamburg", "lat": 53.55, "lon": 9.99},
        }
        if action == "view":
            ev["customers"] = [{"id": f"C-{self.rng.randrange(5000)}", "territory": "DE-North",
                                "tier": "low"}]
        elif rows or action in ("export", "download", "print", "bulk_api"):
            ev["record_count"] = rows
            ev["territories"] = territories or {"DE-North": rows}
        ev.update(extra)
        self.events.append(ev)
        return str(ev["event_id"])

    def workdays(self, eid: str, first: int, last: int, *, tz: str = "Europe/Berlin",
                 hours: tuple[int, int] = (9, 17), exports: tuple[int, int] = (20, 80),
                 export_days: Iterable[int] | None = None, views: int = 12,
                 territory: str = "DE-North", weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> None:
        """Ordinary days: views through the day, one or two small exports."""
        zone = ZoneInfo(tz)
        pick = set(export_days) if export_days is not None else None
        for day in range(first, last):
            date = (START + timedelta(days=day)).date()
            if date.weekday() not in weekdays:
                continue
            base = datetime(date.year, date.month, date.day, tzinfo=zone)
            h0, h1 = hours
            span = (h1 - h0) % 24 or 24
            for _ in range(views):
                self.event(eid, base + timedelta(hours=h0, minutes=self.rng.uniform(0, span * 60)),
                           "view")
            if pick is None or day in pick:
                for _ in range(self.rng.randint(1, 2)):
                    rows = self.rng.randint(*exports)
                    when = base + timedelta(hours=h0, minutes=self.rng.uniform(30, span * 60 - 30))
                    self.event(eid, when, "export", rows, {territory: rows})

    def run(self, settings: Settings | None = None) -> tuple[list[Action], Engine]:
        directory = Directory()
        for rec in self.records:
            directory.add(parse_employee(orjson.dumps(rec)))
        engine = Engine(settings or Settings(), directory, clock=lambda: 0.0)
        actions: list[Action] = []
        for ev in sorted(self.events, key=lambda e: datetime.fromisoformat(e["timestamp"])):
            actions.extend(engine.process(parse_event(orjson.dumps(ev))))
        return actions, engine


def team(world: World, n: int = 6, days: int = 28, **kw: Any) -> list[str]:
    """A team of sales reps doing ordinary work for ``days`` days."""
    ids = [f"E{100 + i}" for i in range(n)]
    for eid in ids:
        world.add(employee(eid))
        world.workdays(eid, 0, days, **kw)
    return ids


def working_days(first: int, last: int) -> list[int]:
    """The days from ``first`` up to ``last`` that fall Monday to Friday (day 0 is a Monday)."""
    return [day for day in range(first, last) if day % 7 < 5]


def at(day: int, hour: int, minute: int = 0, tz: str = "Europe/Berlin") -> datetime:
    d = (START + timedelta(days=day)).date()
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=ZoneInfo(tz))


def alerts_for(actions: list[Action], eid: str) -> list[Action]:
    return [a for a in actions if a.type == "alert" and a.employee_id == eid]


def codes(actions: list[Action]) -> set[str]:
    return {r.code for a in actions for r in a.reasons if r.points > 0}
