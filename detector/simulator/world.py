"""Putting a world together and replaying it in timestamp order.

Days are planned a time-zone band at a time and events are emitted up to a watermark no
later band-day can reach, so the in-memory and the streaming paths produce the same events
while holding only about a day of compact drafts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.simulator.behaviour import DayPlanner
from detector.simulator.casting import Case, Casting
from detector.simulator.config import SimConfig
from detector.simulator.customers import CustomerPool
from detector.simulator.drafts import DRAFT, EMPTY, Extras
from detector.simulator.geography import (
    MINUTE_US,
    local_to_utc_us,
    midnight_us,
    public_ip,
    utc_offset_minutes,
)
from detector.simulator.labels import build_labels
from detector.simulator.memory import collector_paused
from detector.simulator.period import Period
from detector.simulator.scenarios import Stage, plant
from detector.simulator.timeline import directory_records, plan_background
from detector.simulator.wire import Renderer
from detector.simulator.workforce import (
    Employee,
    Location,
    assign_ids,
    assign_managers,
    build_staff,
    equip,
)

CHUNK_ROWS = 100_000


@dataclass
class World:
    """A whole world in memory: events in time order, directory versions, ground truth."""

    events: list[dict[str, Any]]
    employees: list[dict[str, Any]]
    labels: dict[str, Any]


class Generation:
    """One world being made. Everything but the events is built up front; the events come
    once, in order, from :meth:`chunks` or :meth:`encoded`, and the labels after them."""

    def __init__(self, config: SimConfig) -> None:
        with collector_paused():
            self._build(config)

    def _build(self, config: SimConfig) -> None:
        self.config = config
        seed = config.seed
        self.period = period = Period(config.start, config.days)
        n = config.employees
        self.customers = CustomerPool(int(np.clip(n * 25, 6000, 600_000)),
                                      np.random.default_rng([seed, 2]))
        self.staff = build_staff(n, self.customers, np.random.default_rng([seed, 3]))
        casting = Casting(config, period, self.staff, self.customers,
                          np.random.default_rng([seed, 4]))
        self.cases: list[Case] = casting.run()
        self.notes = casting.notes
        plan_background(self.staff, period, np.random.default_rng([seed, 5]))
        assign_ids(self.staff, np.random.default_rng([seed, 6]))
        equip(self.staff, np.random.default_rng([seed, 7]))
        assign_managers(self.staff, np.random.default_rng([seed, 8]))
        trip_rng = np.random.default_rng([seed, 9])
        for emp in self.staff:
            for trip in emp.trips:
                dest = trip.destination
                emp.locations.append(Location.at(public_ip(dest.country, trip_rng), dest))
        self.extras = Extras()
        self.stage = Stage(period, self.customers, self.extras)
        plant(self.cases, self.stage, seed)
        self.employees = directory_records(self.staff, period, np.random.default_rng([seed, 10]))
        self.planner = DayPlanner(seed, period, self.customers, self.extras, config.activity,
                                  self.staff)
        self.renderer = Renderer(seed, self.staff, self.customers, self.extras, len(self.cases),
                                 config.malformed_rate)
        first, last = period.ordinals[0], period.ordinals[-1] + 1
        zones = {emp.tz for emp in self.staff}
        self.start_us = min(local_to_utc_us(tz, first, 0) for tz in zones)
        self.end_us = max(local_to_utc_us(tz, last, 0) for tz in zones)
        self.emp_end = np.array([local_to_utc_us(emp.tz, last, 0) for emp in self.staff],
                                dtype=np.int64)
        self.events_written = 0
        self._done = False

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        """Events in timestamp order, in batches."""
        for rows in self._ordered():
            batch = self.renderer.render(rows)
            self.events_written += len(batch)
            yield batch

    def encoded(self) -> Iterator[bytes]:
        """The same events as :meth:`chunks`, as blocks of JSON lines."""
        for rows in self._ordered():
            self.events_written += len(rows)
            yield self.renderer.encode(rows)

    def _zones(self) -> list[tuple[int, list[Employee]]]:
        """Employees by how far east their clocks run (home, or a trip's destination), with
        each band's largest UTC offset in minutes.

        A band's day starts at UTC midnight minus that lead; planning band-days in that order
        lets the watermark advance a few hours at a time instead of a whole day.
        """
        ordinals = [*self.period.ordinals, self.period.ordinals[-1] + 1]
        leads: dict[str, int] = {}

        def lead(tz: str) -> int:
            if tz not in leads:
                leads[tz] = max(utc_offset_minutes(tz, o) for o in ordinals)
            return leads[tz]

        bands: dict[int, list[tuple[int, Employee]]] = {}
        for emp in self.staff:
            ahead = max(lead(tz) for tz in {emp.tz, *(trip.destination.tz for trip in emp.trips)})
            band = 0 if ahead >= 5 * 60 else (1 if ahead >= -2 * 60 else 2)
            bands.setdefault(band, []).append((ahead, emp))
        return [(max(a for a, _ in members), [e for _, e in members])
                for _, members in sorted(bands.items())]

    def _ordered(self) -> Iterator[np.ndarray]:
        if self._done:
            raise RuntimeError("a Generation yields its events only once")
        self._done = True
        days = self.period.days
        zones = self._zones()
        zone_of = np.zeros(len(self.staff), dtype=np.int8)
        for z, (_, members) in enumerate(zones):
            zone_of[[e.index for e in members]] = z
        units = [(day, z) for day in range(days) for z in range(len(zones))]
        starts = [midnight_us(self.period.ordinals[day]) - zones[z][0] * MINUTE_US
                  for day, z in units]
        pending = EMPTY
        emitted = -(1 << 62)
        staged: list[np.ndarray] = []
        for k, (day, z) in enumerate(units):
            if z == 0:
                staged = self.stage.by_day.pop(day, [])
            mine = [p[zone_of[p["emp"]] == z] for p in staged]
            parts = [pending, *self._plan(day, z, zones[z][1]), *mine]
            if day == days - 1:
                parts = [self.planner.keep(p, p["t"] < self.emp_end[p["emp"]]) for p in parts]
            parts = [p for p in parts if len(p)]
            stamps = np.concatenate([p["t"] for p in parts]) if parts else np.zeros(0, np.int64)
            order = np.argsort(stamps, kind="stable")
            if k + 1 < len(units):
                cut = int(np.searchsorted(stamps[order], min(starts[k + 1:]), side="left"))
            else:
                cut = len(order)
            del stamps
            for lo in range(0, cut, CHUNK_ROWS):
                chunk = gather(parts, order[lo:min(cut, lo + CHUNK_ROWS)])
                if int(chunk["t"][0]) < emitted:
                    raise RuntimeError("planned an event behind the watermark")
                emitted = int(chunk["t"][-1])
                yield chunk
            pending = gather(parts, order[cut:])
            del parts, order

    def _plan(self, day: int, zone: int, members: list[Employee]) -> list[np.ndarray]:
        with collector_paused():
            return self.planner.plan_day(day, members, zone)

    def labels(self) -> dict[str, Any]:
        return build_labels(self.config, self.start_us, self.end_us, self.cases, self.renderer,
                            self.notes)


def gather(parts: list[np.ndarray], index: np.ndarray) -> np.ndarray:
    """Rows at positions ``index`` of the parts laid end to end, without laying them so."""
    starts = np.cumsum([0] + [len(p) for p in parts])
    which = np.searchsorted(starts, index, side="right") - 1
    out = np.empty(len(index), dtype=DRAFT)
    for k in np.unique(which).tolist():
        mask = which == k
        out[mask] = parts[k][index[mask] - starts[k]]
    return out


def simulate(config: SimConfig) -> World:
    gen = Generation(config)
    events: list[dict[str, Any]] = []
    for batch in gen.chunks():
        events.extend(batch)
    return World(events, gen.employees, gen.labels())
