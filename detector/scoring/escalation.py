"""Escalation: a sustained rise over a slow anchor that no single export shows,
summed per export and, for exports spread between small downloads, per day."""

from __future__ import annotations

import math
from typing import ClassVar

from detector.scoring.calendar import is_month_end
from detector.scoring.observation import Observation
from detector.scoring.signal import DATA_OUT, VERBS, BaseSignal, Case, n
from detector.settings import ScoringSettings
from detector.wire.actions import Reason
from detector.wire.employees import EmployeeRecord
from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import LOG_SD_FLOOR, EWStat
from models.volume import ClosedPeriods

CUSUM_STEP_CAP = 2.0
LN2 = math.log(2)


def rise_step(anchor: EWStat, value: float, allowance: float, day: int) -> float:
    """One step of an escalation sum: ``value`` against ``anchor`` in capped sds.

    The spread is capped too: for someone whose exports range from 1 to 200
    rows, a doubling of the typical is still a rise worth summing.  The step is
    capped both ways, so one spike (the volume signal's job) cannot fill the
    sum and one tiny export cannot empty it; a month-end close is not a rise.
    The allowance grows with a spread beyond the cap: for someone whose sizes
    routinely vary tenfold (a mix of one-row downloads and list exports), a
    stretch of larger ones is their mix, not a rise, and with the capped
    spread alone it filled the sum within weeks.
    """
    sd = max(anchor.sd, LOG_SD_FLOOR)
    z = (math.log1p(value) - anchor.mean) / min(sd, 1.0)
    step = min(max(z, -1.0), CUSUM_STEP_CAP) - allowance * max(1.0, sd)
    if step > 0 and is_month_end(day):
        return 0.0
    return step


def allowance(s: ScoringSettings, rec: EmployeeRecord | None, base: float) -> float:
    """A rise's allowance: what each step must exceed before it counts.

    Under notice it shrinks by ``notice_cusum_factor``, as the bounds do: the
    same rise then builds from the first days of a ramp instead of its fourth,
    while an honest leaver's days, as often below their usual as above it,
    still drift the sum down (a step's mean is about 0.1 above the anchor).
    """
    if rec is not None and rec.status == "notice":
        return base * s.notice_cusum_factor
    return base


def day_step(s: ScoringSettings, emp: EmployeeBaseline, total: float, day: int,
             rec: EmployeeRecord | None = None) -> float:
    """One day's step of the daily rise: its total against the anchor of days."""
    anchor = emp.anchor_of("rows_24h")
    if anchor.n < s.escalation_min_active_days:
        return 0.0
    return rise_step(anchor, total, allowance(s, rec, s.day_rise_allowance), day)


def bounds(s: ScoringSettings, rec: EmployeeRecord | None, limit: float | None = None,
           min_days: int | None = None) -> tuple[float, int]:
    """The rise and the rising days that make an escalation (by default the volume
    sums'); someone under notice gets less room for a ramp-up."""
    limit = s.cusum_threshold if limit is None else limit
    min_days = s.escalation_rising_days if min_days is None else min_days
    if rec is not None and rec.status == "notice":
        limit *= s.notice_cusum_factor
        min_days = max(2, round(min_days * s.notice_cusum_factor))
    return limit, min_days


def points(s: ScoringSettings, rise: float, limit: float) -> float:
    return s.escalation_points + min(s.escalation_points / 3, 5.0 * (rise / limit - 1))


class Escalation(BaseSignal):
    """Both sums: per export against the anchor, and per finished day against the
    anchor of daily totals.  Each may grow by a bounded amount a day and must
    build over several separate days; a reported rise starts afresh."""

    codes: ClassVar[tuple[str, ...]] = ("volume_escalation",)
    # Any alert resets the rises: refusing concerns every event.
    observes = assesses = learns = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        if closed is not None and closed.day_total is not None:
            emp.add_day_rise(day_step(self.s, emp, closed.day_total, closed.day, obs.rec))

    def assess(self, case: Case) -> None:
        obs = case.obs
        if not obs.ev.data_out:
            return
        self._per_export(case)
        self._daily(case)

    def _per_export(self, case: Case) -> None:
        s, obs, emp = self.s, case.obs, case.emp
        ev, rows = obs.ev, obs.rows
        anchor = emp.anchor_of("rows")
        if anchor.n < s.escalation_min_exports or emp.seen_days(ev.ts) < s.escalation_min_days:
            return
        step = rise_step(anchor, rows, allowance(s, obs.rec, s.cusum_allowance),
                         obs.abs_hour // 24)
        cusum, days_rising, last_day, last_gain = emp.rise()
        if step > 0:
            day = obs.abs_hour // 24
            fresh_day = last_day != day
            gained = 0.0 if fresh_day else last_gain
            step = min(step, max(0.0, s.cusum_daily_gain - gained))
            obs.cusum_gain = gained + step
            days_rising += fresh_day
        obs.cusum = max(0.0, cusum + step)
        obs.cusum_days = days_rising if obs.cusum > 0 else 0
        limit, min_days = bounds(s, obs.rec)
        # A rise over several separate days, not a few spikes in one or two
        # (which are the volume signal's business); the export named is itself
        # part of the rise, at least double the long-term typical.
        if (obs.cusum >= limit and rows >= s.min_rows and obs.cusum_days >= min_days
                and math.log1p(rows) - anchor.mean >= LN2):
            case.escalated = True
            recent = math.expm1(emp.stat("rows").mean)
            usual = math.expm1(anchor.mean)
            ratio = math.log1p(rows) - anchor.mean
            verb = VERBS.get(ev.action, ev.action)
            case.add(Reason(
                "volume_escalation",
                f"data-out volume rising steadily: {verb} {n(rows)} rows, "
                f"{math.exp(ratio):.1f}x the long-term typical {n(usual)} "
                f"(recent typical {n(recent)})",
                points(s, obs.cusum, limit),
                {"rows": rows, "long_term_typical": round(usual),
                 "recent_typical": round(recent), "cusum": round(obs.cusum, 1)},
            ), data_out=True)

    def _daily(self, case: Case) -> None:
        """The same rise in daily totals, for exports spread between small downloads."""
        s, obs, emp = self.s, case.obs, case.emp
        if (obs.rows < s.min_rows or case.escalated
                or emp.seen_days(obs.ev.ts) < s.escalation_min_days):
            return
        so_far, rising_days, day_rows = emp.day_rise_so_far()
        step = day_step(s, emp, day_rows, obs.abs_hour // 24, obs.rec)
        rise = max(0.0, so_far + step)
        days = rising_days + (step > 0) if rise > 0 else 0
        limit, min_days = bounds(s, obs.rec)
        # A day below the floor of every usual range moves too little to report.
        if rise >= limit and days >= min_days and day_rows >= s.volume_floor_rows:
            usual = math.expm1(emp.anchor_of("rows_24h").mean)
            case.add(Reason(
                "volume_escalation",
                f"daily data-out volume rising steadily: {n(day_rows)} rows today, "
                f"{day_rows / max(usual, 1.0):.1f}x the long-term typical day "
                f"{n(usual)}, rising over {days} days",
                points(s, rise, limit),
                {"rows_today": round(day_rows), "long_term_typical_day": round(usual),
                 "rising_days": days, "cusum": round(rise, 1)},
            ), data_out=True)

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        emp.commit_rise(obs.cusum, obs.cusum_days, obs.abs_hour // 24, obs.cusum_gain)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        emp.reset_rises()  # the rise has been reported; start counting afresh
