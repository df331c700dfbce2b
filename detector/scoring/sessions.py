"""One account used from two places at once: stolen or shared credentials (the
owner at the office while a second device elsewhere logs in and exports).

Two devices active within ``concurrent_window_seconds`` whose places are
further apart than one person could travel in between.  Unlike impossible
travel, places the employee is known at are no excuse: two known offices are
still two people.  A phone beside the laptop is in the same place and stays
quiet; ``concurrent_min_km`` absorbs what geolocation by IP gets wrong within
a country's region.
"""

from __future__ import annotations

from typing import ClassVar

from detector.features import distance_km
from detector.scoring.observation import Observation
from detector.scoring.signal import BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import stable_hash
from models.volume import ClosedPeriods


class ConcurrentSessions(BaseSignal):
    """The farthest other device active within the window, against travel speed."""

    codes: ClassVar[tuple[str, ...]] = ("concurrent_sessions",)
    learns = refuses = frozenset()

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        if ev.device_id is None or ev.lat is None or ev.lon is None:
            return
        device = stable_hash(ev.device_id)
        s = self.s
        best = 0.0
        for lat, lon, ts in emp.breadth.other_devices(device, ev.ts, s.concurrent_window_seconds):
            km = distance_km(lat, lon, ev.lat, ev.lon)
            if km >= s.concurrent_min_km and km > best:
                hours = max((ev.ts - ts) / 3600.0, 1 / 60)
                if km / hours > s.travel_max_kmh:
                    best = km
                    obs.concurrent_km, obs.concurrent_minutes = km, (ev.ts - ts) / 60.0
        emp.breadth.note_device(device, ev.lat, ev.lon, ev.ts)

    def assess(self, case: Case) -> None:
        s, obs = self.s, case.obs
        if not obs.concurrent_km:
            return
        pts = s.concurrent_points + (10.0 if case.data_points > 0 else 0.0)
        case.add(Reason(
            "concurrent_sessions",
            f"two devices in use {n(obs.concurrent_km)} km apart within "
            f"{n(obs.concurrent_minutes)} min",
            pts,
            {"km": round(obs.concurrent_km), "minutes": round(obs.concurrent_minutes, 1)},
        ))
