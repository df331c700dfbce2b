"""Off-hours: data leaving when both the directory's working hours and the learned
hour profile (where each is known) say the hour is odd."""

from __future__ import annotations

import math
from typing import ClassVar

from detector.features import fmt_minute, in_working_hours, minutes_outside
from detector.scoring.calendar import DAY_NAMES, hours_text
from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, VERBS, BaseSignal, Case, n
from detector.settings import ScoringSettings
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline


def odd_hours(case: Case) -> str | None:
    """Why this data-out's hour is odd, in words (None: it is not), asked once per
    event: the volume signal judges an odd hour against no peer ceiling."""
    if not case.off_hours_known:
        case.off_hours_known = True
        if case.obs.rows >= case.s.min_rows:
            case.off_hours = _odd_hours(case.s, case.obs, case.emp, case.peer)
    return case.off_hours


def _odd_hours(s: ScoringSettings, obs: Observation, emp: EmployeeBaseline,
               peer: PeerBaseline) -> str | None:
    rec = obs.rec
    by_dir = (
        in_working_hours(rec, obs.how, obs.minute, s.offhours_margin_minutes)
        if rec is not None
        else None
    )
    if by_dir is True:
        return None
    own, peers = emp.hour_profile(), peer.hour_profile()
    profile = own if own.active >= s.profile_min_active_hours else None
    if profile is None and peers.active >= s.profile_min_active_hours * 4:
        profile = peers
    rare_profile: bool | None = None
    if profile is not None:
        week, day = profile.typicality(obs.how)
        rare_profile = day < s.rare_hour and week < 2 * s.rare_hour
    if rare_profile is False or (by_dir is None and rare_profile is None):
        return None
    when = f"at {fmt_minute(obs.minute)} local on {DAY_NAMES[obs.how // 24]}"
    parts = []
    if by_dir is False and rec is not None:
        parts.append("outside working hours" + hours_text(rec))
    if rare_profile:
        parts.append("rare in own history" if profile is own else "rare for peers")
    return when + ", " + " and ".join(parts)


class OffHours(BaseSignal):
    """Only for data that actually leaves: volume or territory already spoke, or
    the export is sizeable; the dead of night weighs more than a late evening."""

    codes: ClassVar[tuple[str, ...]] = ("off_hours",)
    assesses = frozenset({DATA_OUT})

    def assess(self, case: Case) -> None:
        obs = case.obs
        if not obs.ev.data_out:
            return
        s, rows = self.s, obs.rows
        off = odd_hours(case)
        if off is None or not (case.volume_points > 0 or case.territory_points > 0
                               or rows >= 4 * s.min_rows):
            return
        size = min(1.0, math.log1p(rows) / math.log1p(20 * s.min_rows))
        depth = 1.0
        if obs.rec is not None:
            gap = minutes_outside(obs.rec, obs.how, obs.minute)
            if gap is not None:
                depth = min(1.0, max(0.25, (gap - s.offhours_margin_minutes) / 240))
        pts = s.offhours_points * size * depth
        verb = VERBS.get(obs.ev.action, obs.ev.action)
        case.add(Reason("off_hours", f"{verb} {n(rows)} rows {off}", pts,
                        {"local_time": fmt_minute(obs.minute)}), data_out=True)

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        if emp.learn_hour(obs.abs_hour, obs.how):  # a new active hour
            peer.count_hour(obs.how)
            if glob is not peer:
                glob.count_hour(obs.how)
