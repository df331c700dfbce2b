"""Impossible travel: two places further apart than a plane could go in between."""

from __future__ import annotations

from typing import ClassVar

from detector.features import distance_km
from detector.scoring.observation import Observation
from detector.scoring.signal import BaseSignal, Case, n
from detector.wire.actions import Reason
from detector.wire.events import Event
from models.baseline import EmployeeBaseline, PeerBaseline


def cell(lat: float, lon: float) -> int:
    """A stable id for the 1-degree cell around a location."""
    return (int(lat + 90) * 361 + int(lon + 180)) & 0xFFFFFFFF


def place(ev: Event) -> str:
    """Where an event came from, in words."""
    if ev.city and ev.country:
        return f"{ev.city}, {ev.country}"
    return ev.city or ev.country or f"({ev.lat:.1f}, {ev.lon:.1f})"


class Travel(BaseSignal):
    """Hopping between places the employee is known at (two offices, VPN exits) is
    not travel; more points when data leaves too."""

    codes: ClassVar[tuple[str, ...]] = ("impossible_travel",)

    def assess(self, case: Case) -> None:
        s, ev, emp = self.s, case.obs.ev, case.emp
        last = emp.last_location()
        if ev.lat is None or ev.lon is None or last is None:
            return
        lat, lon, ts0, place0 = last
        if (lat == ev.lat and lon == ev.lon) or ev.ts < ts0:
            return
        km = distance_km(lat, lon, ev.lat, ev.lon)
        if km < s.travel_min_km or emp.knows_place(cell(ev.lat, ev.lon)):
            return
        hours = max((ev.ts - ts0) / 3600.0, 1 / 60)
        speed = km / hours
        if speed > s.travel_max_kmh:
            pts = s.travel_points + (10.0 if case.data_points > 0 else 0.0)
            case.add(Reason(
                "impossible_travel",
                f"{place0} then {place(ev)}: {n(km)} km in "
                f"{n((ev.ts - ts0) / 60)} min ({n(speed)} km/h)",
                pts,
                {"km": round(km), "minutes": round((ev.ts - ts0) / 60, 1),
                 "kmh": round(speed)},
            ))

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        ev = obs.ev
        if ev.lat is not None and ev.lon is not None:
            emp.learn_place(cell(ev.lat, ev.lon))
