"""Identity: a device or a country not seen before for a settled employee."""

from __future__ import annotations

from typing import ClassVar

from detector.scoring.observation import Observation
from detector.scoring.signal import BaseSignal, Case
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import stable_hash


class NewDevice(BaseSignal):
    """Only once the employee has enough events over enough days to know their own;
    doubled when data leaves."""

    codes: ClassVar[tuple[str, ...]] = ("new_device", "new_country")

    def assess(self, case: Case) -> None:
        s, ev, emp = self.s, case.obs.ev, case.emp
        events, first_ts = emp.maturity()
        mature = (
            events >= s.identity_min_events
            and ev.ts - first_ts >= s.identity_min_days * 86400
        )
        if not mature:
            return
        if ev.device_id is not None and not emp.knows_device(stable_hash(ev.device_id)):
            pts = s.new_device_points * (2.0 if ev.data_out else 1.0)
            case.add(Reason("new_device", f"{ev.action} from a device not seen before", pts))
        if ev.country is not None and not emp.knows_country(stable_hash(ev.country)):
            pts = s.new_country_points * (1.5 if ev.data_out else 1.0)
            case.add(Reason("new_country", f"{ev.action} from {ev.country}, a country not seen "
                            "before for this employee", pts, {"country": ev.country}))

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        emp.learn_identity(obs.ev.device_id, obs.ev.country, obs.ev.source_ip)
