"""Risk scoring: each event against the employee, the peer group and HR.

``Scorer.assess`` turns one event into a 0-100 score made of signals, each
with a stable code, a sentence with the numbers, and its points; the score is
their sum, capped at 100.  Volume-type signals are measured in *doublings
above the top of the usual range* (mean + k·sd of log1p volume), which reads
the same for a rep exporting 20 rows and a marketer exporting 5,000.

The event is always scored before anything is learned from it, and
``Scorer.learn`` is only called for events that did not raise an alert, so an
insider cannot teach the baseline they are judged by.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from detector.actions import Reason
from detector.directory import EmployeeRecord
from detector.events import Event
from detector.features import (
    distance_km,
    fmt_minute,
    high_tier_share,
    in_working_hours,
    local_clock,
    minutes_outside,
    outside_share,
)
from detector.settings import ScoringSettings
from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import LOG_SD_FLOOR, EWStat, stable_hash

LN2 = math.log(2)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Prior for a world with no history at all: ~100 rows, very wide.
PRIOR_LOG_MEAN = math.log1p(100)
PRIOR_LOG_SD = 1.6
CUSUM_STEP_CAP = 2.0
# The window over which browsing pace is measured.
PACE_SECONDS = 600


@dataclass(slots=True)
class Observation:
    """What one event measured, computed once and shared by scoring and learning."""

    ev: Event
    rec: EmployeeRecord | None
    abs_hour: int
    how: int
    minute: int
    rows: int = 0
    rows_1h: float = 0.0
    rows_24h: float = 0.0
    actions_today: int = 0
    viewed: float = 0.0
    # Distinct customers viewed over the last ten minutes (sliding).
    viewed_10m: float = 0.0
    oot_share: float | None = None
    # The busiest territories outside the employee's, and what counted as theirs.
    oot_top: list[str] | None = None
    own_territories: frozenset[str] | list[str] | None = None
    # Doublings above the employee's own usual range (None: no own history).
    own_excess: float | None = None
    cusum: float = 0.0
    cusum_gain: float | None = None
    cusum_days: int = 0


@dataclass(slots=True)
class Assessment:
    score: int
    reasons: list[Reason] = field(default_factory=list)
    cold_start: bool = False

    @property
    def top(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None


_MONTH_END: dict[int, bool] = {}


def score_of(reasons: list[Reason]) -> int:
    """The 0-100 score: the reasons' points added up, capped at both ends."""
    return round(min(100.0, max(0.0, sum(r.points for r in reasons))))


def _month_end(d: date) -> bool:
    if d.weekday() >= 5:
        return False
    nxt = d + timedelta(days=1)
    later = 0  # business days left in the month after d
    while nxt.month == d.month:
        later += nxt.weekday() < 5
        nxt += timedelta(days=1)
    prev = d - timedelta(days=1)
    earlier = 0
    while prev.month == d.month:
        earlier += prev.weekday() < 5
        prev -= timedelta(days=1)
    return later <= 1 or earlier == 0


def is_month_end(local_day: int) -> bool:
    """Last two business days of a month or its first: when finance and sales close."""
    got = _MONTH_END.get(local_day)
    if got is None:
        try:
            got = _month_end(date(1970, 1, 1) + timedelta(days=local_day))
        except OverflowError:  # a schema-valid instant in year 1 or late 9999
            got = False
        if len(_MONTH_END) > 100_000:
            _MONTH_END.clear()
        _MONTH_END[local_day] = got
    return got


def _n(x: float) -> str:
    return f"{round(x):,}"


class Scorer:
    def __init__(self, s: ScoringSettings) -> None:
        self.s = s

    # -- measurement ---------------------------------------------------------

    def observe(
        self,
        ev: Event,
        rec: EmployeeRecord | None,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
    ) -> Observation:
        tz = rec.tz if rec is not None else None
        abs_hour, how, minute = local_clock(tz, ev.ts)
        if rec is not None and emp.job[0] != id(rec):
            job = stable_hash(
                f"{rec.peer_group}|{rec.all_territories}|{sorted(rec.territories or ())}"
            )
            if emp.job[1] not in (0, job):
                emp.new_job()
            emp.job = (id(rec), job)
        obs = Observation(ev, rec, abs_hour, how, minute)
        if ev.data_out:
            rows = ev.record_count
            obs.rows = rows
            closing_day = emp.day_key
            hour_total, day_total, day_actions = emp.close_periods(abs_hour)
            if hour_total is not None or day_total is not None:
                done: dict[Hashable, Any] = {}
                if hour_total is not None:
                    done["rows_1h"] = hour_total
                if day_total is not None:
                    done["rows_24h"] = day_total
                    rise = self._day_step(emp, day_total, closing_day)
                    emp.day_rise = max(0.0, emp.day_rise + rise)
                    emp.day_rise_days = (
                        0 if emp.day_rise == 0 else emp.day_rise_days + (rise > 0)
                    )
                if day_actions is not None:
                    done["actions_24h"] = day_actions
                emp.learn_one({**done, "ts": ev.ts})
                peer.learn_one(done)
                if glob is not peer:
                    glob.learn_one(done)
            emp.hour_rows += rows
            emp.day_rows += rows
            emp.day_actions += 1
            emp.w24n.update(ev.ts, 1)
            obs.actions_today = round(emp.w24n.get_at(ev.ts))
            emp.w1h.update(ev.ts, rows)
            emp.w24h.update(ev.ts, rows)
            obs.rows_1h = emp.w1h.get_at(ev.ts)
            obs.rows_24h = emp.w24h.get_at(ev.ts)
            own = self._own_territories(rec, emp)
            got = outside_share(ev.territories, own)
            if got is not None:
                obs.oot_share, obs.oot_top = got
                obs.own_territories = own
        elif ev.action == "view":
            viewed, paced = emp.viewed, emp.viewed_10m
            tenth = int(ev.ts // PACE_SECONDS)
            if tenth != paced.period:
                paced.roll(tenth)
            hour = int(ev.ts // 3600)
            if hour != viewed.period:
                self._close_view_hour(emp, peer, hour)
            if ev.customer_ids:
                for cid in ev.customer_ids:
                    h = stable_hash(cid)
                    viewed.update(h)
                    paced.update(h)
                obs.viewed = viewed.get()
            else:
                viewed.total += ev.record_count
                paced.total += ev.record_count
                obs.viewed = max(viewed.get(), float(viewed.total))
            # The estimate barely exceeds the bits set while it is small, so most
            # views are ruled out without computing it.
            if paced.ones + paced.previous + 1 >= self.s.pace_min_distinct or not paced.ones:
                obs.viewed_10m = paced.pace((ev.ts % PACE_SECONDS) / PACE_SECONDS)
        return obs

    @staticmethod
    def _close_view_hour(emp: EmployeeBaseline, peer: PeerBaseline, hour: int) -> None:
        """Learn the finished hour's distinct customers and its busiest ten
        minutes, unless the hour was flagged."""
        viewed = emp.viewed
        peak = emp.viewed_10m.take_peak()
        if viewed.period >= 0 and viewed.total and not viewed.flagged:
            measure = math.log1p(viewed.measure())
            emp.views.update(measure)
            peer.views.update(measure)
            if peak:
                emp.views_10m.update(math.log1p(peak))
                peer.views_10m.update(math.log1p(peak))
        viewed.reset(hour)

    def _day_step(self, emp: EmployeeBaseline, total: float, day: int) -> float:
        """One day's step of the daily rise: its total against the anchor of days."""
        if emp.anchor_24h.n < self.s.escalation_min_active_days:
            return 0.0
        return _rise_step(emp.anchor_24h, total, self.s.day_rise_allowance, day)

    def _escalation_bounds(self, rec: EmployeeRecord | None) -> tuple[float, int]:
        """The rise and the rising days that make an escalation; someone under
        notice gets less room for a ramp-up."""
        s = self.s
        limit, min_days = s.cusum_threshold, s.escalation_rising_days
        if rec is not None and rec.status == "notice":
            limit *= s.notice_cusum_factor
            min_days = max(2, round(min_days * s.notice_cusum_factor))
        return limit, min_days

    def _escalation_points(self, rise: float, limit: float) -> float:
        s = self.s
        return s.escalation_points + min(s.escalation_points / 3, 5.0 * (rise / limit - 1))

    @staticmethod
    def _own_territories(
        rec: EmployeeRecord | None, emp: EmployeeBaseline
    ) -> frozenset[str] | list[str] | None:
        if rec is not None:
            if rec.all_territories:
                return None
            if rec.territories:
                return rec.territories
        usual = emp.usual_territories()
        return usual if usual and emp.rows.n >= 5 else None

    # -- scoring -------------------------------------------------------------

    def _band(
        self,
        key: str,
        ts: float,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
        ordinary: bool = True,
    ) -> tuple[float, bool]:
        """Top of the usual range (log1p units), blending own history in as it grows.

        A reference counts once it has ``peer_warmup`` observations over at
        least ``min_history_days``; before that the next wider one is used
        (peer group, then everyone, then a wide prior).
        """
        s = self.s
        k = s.k_band
        if key == "distinct_viewed_1h":
            floor, prior = math.log1p(s.harvest_min_distinct), math.log1p(20)
        elif key == "distinct_viewed_10m":
            floor, prior = math.log1p(s.pace_min_distinct), math.log1p(5)
        elif key == "actions_24h":
            floor, prior = math.log1p(s.chunk_min_actions), math.log1p(3)
        else:
            floor, prior = math.log1p(s.volume_floor_rows), math.log1p(100)
        ref_band = prior + k * PRIOR_LOG_SD
        ceiling: float | None = None
        for ref in (peer, glob):
            st = ref.stat(key)
            if st.n >= s.peer_warmup and ref.seen_days(ts) >= s.min_history_days:
                ref_band = st.band(k)
                # What the busiest 1% of the peer group does is within the job,
                # in an ordinary setting (not at night, not under notice).
                # Only for single actions: chunking and daily totals must not hide
                # behind the group's busiest days.
                ceiling = (
                    ref.ceiling(key) if ref is peer and ordinary and key == "rows" else None
                )
                break
        ref_band = max(ref_band, floor)
        n_own = emp.stat(key).n
        if n_own == 0:
            band, cold = ref_band, True
        else:
            w = min(1.0, n_own / s.own_warmup, emp.seen_days(ts) / s.min_history_days)
            own_band = max(emp.band(key, k, ts), floor)
            band, cold = w * own_band + (1 - w) * ref_band, w < 1.0
        if ceiling is not None and ceiling > band:
            band = ceiling
        return band, cold

    def assess(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
    ) -> Assessment:
        s = self.s
        ev, rec = obs.ev, obs.rec
        reasons: list[Reason] = []
        cold = False

        # HR status first: any activity on these accounts is critical on its own.
        if rec is None:
            reasons.append(
                Reason(
                    "unknown_employee",
                    "account not in the employee directory; judged against all employees",
                    s.unknown_points,
                )
            )
        else:
            status = rec.status
            recent = ev.ts - rec.updated_at < s.status_grace_seconds
            if status in ("terminated", "leave") and recent:
                reasons.append(
                    Reason(
                        "status_change",
                        f"{ev.action} within minutes of the account's change to {status}",
                        s.unknown_points,
                        {"status": status},
                    )
                )
            elif status == "terminated":
                reasons.append(
                    Reason(
                        "terminated_account",
                        f"{ev.action} on the account of an employee terminated "
                        f"{_date_of(rec.updated_at)}",
                        s.terminated_points,
                        {"status": "terminated"},
                    )
                )
            elif status == "leave":
                reasons.append(
                    Reason(
                        "account_on_leave",
                        f"{ev.action} on the account of an employee on leave since "
                        f"{_date_of(rec.updated_at)}",
                        s.leave_points,
                        {"status": "leave"},
                    )
                )
            elif rec.last_day is not None and _local_date(obs) > rec.last_day.isoformat():
                reasons.append(
                    Reason(
                        "after_last_day",
                        f"{ev.action} after the employee's last day {rec.last_day.isoformat()}",
                        s.terminated_points,
                        {"last_day": rec.last_day.isoformat()},
                    )
                )

        data_points = 0.0
        if ev.data_out:
            data_points, cold = self._data_out(obs, emp, peer, glob, reasons)
        elif obs.viewed >= s.harvest_min_distinct or obs.viewed_10m >= s.pace_min_distinct:
            cold = self._harvest(obs, emp, peer, glob, reasons)

        self._identity(obs, emp, reasons, data_points)

        if (
            rec is not None
            and rec.status == "notice"
            and data_points > 0
            and not any(r.code == "after_last_day" for r in reasons)
        ):
            last = f", last day {rec.last_day.isoformat()}" if rec.last_day else ""
            reasons.append(
                Reason(
                    "notice_period",
                    f"employee is under notice{last}: data-out risk raised by "
                    f"{round(s.notice_factor * 100)}%",
                    s.notice_factor * data_points,
                    {"status": "notice"},
                )
            )

        reasons.sort(key=lambda r: -r.points)
        return Assessment(score_of(reasons), reasons, cold)

    def _data_out(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
        reasons: list[Reason],
    ) -> tuple[float, bool]:
        s = self.s
        ev, rec = obs.ev, obs.rec
        rows = obs.rows
        verb = _VERBS.get(ev.action, ev.action)
        points = 0.0
        cold = False

        # Volume: one action, the last hour, the last 24 hours; the worst counts.
        best: tuple[float, str, float, float] | None = None
        off = self._off_hours(obs, emp, peer) if rows >= s.min_rows else None
        ordinary = off is None and (rec is None or rec.status == "active")
        # Month-end closes legitimately multiply data pulls; someone under notice
        # gets no such benefit of the doubt.
        tolerance = 0.0
        if (rec is None or rec.status != "notice") and is_month_end(obs.abs_hour // 24):
            tolerance = s.month_end_tolerance
        if rows >= s.min_rows or obs.rows_24h >= s.min_rows:
            for key, q in (
                ("rows", rows),
                ("rows_1h", obs.rows_1h),
                ("rows_24h", obs.rows_24h),
                ("actions_24h", obs.actions_today),
            ):
                if key == "actions_24h":
                    if q < s.chunk_min_actions:
                        continue
                elif q < s.min_rows:
                    continue
                elif key != "rows" and rows >= 0.5 * q:
                    continue  # one big action is the per-action check's business
                band, is_cold = self._band(key, ev.ts, emp, peer, glob, ordinary)
                # A close brings bigger pulls, not dozens of small ones: the
                # allowance is for volume, and chunking gets none of it.
                allowance = 0.0 if key == "actions_24h" else tolerance
                excess = (math.log1p(q) - band) / LN2 - allowance
                per = (
                    s.points_per_doubling_actions if key == "actions_24h"
                    else s.points_per_doubling
                )
                # The strongest quantity speaks: compared in points, since a
                # doubling of actions weighs more than a doubling of rows.
                if best is None or per * excess > best[0]:
                    best = (per * excess, key, q, band)
                    cold = is_cold
            # Own-only excess for the peer group's surge detector.
            if emp.rows.n >= s.own_warmup:
                obs.own_excess = (math.log1p(rows) - emp.band("rows", s.k_band)) / LN2
        volume = 0.0
        if best is not None and best[0] > 0:
            raw_points, key, q, band = best
            volume = min(s.volume_cap, raw_points)
            usual = math.expm1(band)
            basis = "peer group" if cold else "own baseline"
            if key == "rows":
                text = f"{verb} {_n(q)} rows in one action; usual up to {_n(usual)} ({basis})"
            elif key == "rows_1h":
                text = f"{_n(q)} rows out in the last hour; usual up to {_n(usual)} ({basis})"
            elif key == "actions_24h":
                text = (
                    f"{_n(q)} data-out actions in 24 h ({_n(obs.rows_24h)} rows); "
                    f"usual up to {_n(usual)} a day ({basis})"
                )
            else:
                text = f"{_n(q)} rows out in 24 h; usual up to {_n(usual)} ({basis})"
            if tolerance:
                text += "; month-end allowance applied"
            details: dict[str, object] = {
                "month_end": bool(tolerance),
                "rows": rows,
                "rows_1h": round(obs.rows_1h),
                "rows_24h": round(obs.rows_24h),
                "usual_max": round(usual),
                "times_usual_max": round(q / max(usual, 1.0), 1),
                "basis": basis,
            }
            code = {
                "rows": "volume_action",
                "rows_1h": "volume_1h",
                "rows_24h": "volume_24h",
                "actions_24h": "chunked_exports",
            }[key]
            reasons.append(Reason(code, text, volume, details))
            points += volume

            surge = peer.surge(ev.employee_id, ev.ts, s.surge_min_others, s.surge_min_share)
            if surge[0]:
                cut = -(1 - s.surge_factor) * volume
                reasons.append(
                    Reason(
                        "peer_surge",
                        f"{surge[0]} of {surge[1]} peers in "
                        f"{rec.peer_group if rec else 'the group'} "
                        "also moved unusual volumes today: a collective pattern",
                        cut,
                        {"peers_elevated": surge[0], "peers_exporting": surge[1]},
                    )
                )
                points += cut
                volume += cut

        # Escalation: a sustained rise over the anchor that no single export shows.
        anchor = emp.anchor
        escalated = False
        if anchor.n >= s.escalation_min_exports and emp.seen_days(ev.ts) >= s.escalation_min_days:
            step = _rise_step(anchor, rows, s.cusum_allowance, obs.abs_hour // 24)
            days_rising = emp.cusum_days
            if step > 0:
                day = obs.abs_hour // 24
                fresh_day = emp.cusum_day != day
                gained = 0.0 if fresh_day else emp.cusum_gain
                step = min(step, max(0.0, s.cusum_daily_gain - gained))
                obs.cusum_gain = gained + step
                days_rising += fresh_day
            obs.cusum = max(0.0, emp.cusum + step)
            obs.cusum_days = days_rising if obs.cusum > 0 else 0
            limit, min_days = self._escalation_bounds(rec)
            # A rise over several separate days, not a few spikes in one or two
            # (which are the volume signal's business).
            if obs.cusum >= limit and rows >= s.min_rows and obs.cusum_days >= min_days:
                escalated = True
                recent = math.expm1(emp.rows.mean)
                usual = math.expm1(anchor.mean)
                ratio = math.log1p(rows) - anchor.mean
                pts = self._escalation_points(obs.cusum, limit)
                reasons.append(
                    Reason(
                        "volume_escalation",
                        f"data-out volume rising steadily: {verb} {_n(rows)} rows, "
                        f"{math.exp(ratio):.1f}x the long-term typical {_n(usual)} "
                        f"(recent typical {_n(recent)})",
                        pts,
                        {"rows": rows, "long_term_typical": round(usual),
                         "recent_typical": round(recent), "cusum": round(obs.cusum, 1)},
                    )
                )
                points += pts

        # The same rise in daily totals, for exports spread between small downloads.
        if (
            rows >= s.min_rows
            and not escalated
            and emp.seen_days(ev.ts) >= s.escalation_min_days
        ):
            step = self._day_step(emp, emp.day_rows, obs.abs_hour // 24)
            rise = max(0.0, emp.day_rise + step)
            days = emp.day_rise_days + (step > 0) if rise > 0 else 0
            limit, min_days = self._escalation_bounds(rec)
            if rise >= limit and days >= min_days:
                usual = math.expm1(emp.anchor_24h.mean)
                pts = self._escalation_points(rise, limit)
                reasons.append(
                    Reason(
                        "volume_escalation",
                        f"daily data-out volume rising steadily: {_n(emp.day_rows)} rows today, "
                        f"{emp.day_rows / max(usual, 1.0):.1f}x the long-term typical day "
                        f"{_n(usual)}, rising over {days} days",
                        pts,
                        {"rows_today": round(emp.day_rows), "long_term_typical_day": round(usual),
                         "rising_days": days, "cusum": round(rise, 1)},
                    )
                )
                points += pts

        # Territory: rows outside the employee's territories, beyond their usual share.
        territory = 0.0
        if obs.oot_share is not None and rows >= s.min_rows:
            usual_share = emp.oot.mean if emp.oot.n >= 3 else 0.0
            # Measured from the usual share (at least 10%): an employee who
            # often covers a neighbour's accounts has less room to surprise.
            base = max(usual_share, 0.1)
            excess_share = obs.oot_share - base
            if excess_share > 0:
                outside_rows = obs.oot_share * rows
                size = min(1.0, math.log1p(outside_rows) / math.log1p(2 * s.min_rows))
                territory = s.territory_points * excess_share / (1 - base) * size
                own = obs.own_territories
                own_txt = ", ".join(sorted(own)[:3]) if own else "own territories"
                reasons.append(
                    Reason(
                        "out_of_territory",
                        f"{round(obs.oot_share * 100)}% of {_n(rows)} rows outside {own_txt} "
                        f"(usually {round(usual_share * 100)}%)",
                        territory,
                        {
                            "share_outside": round(obs.oot_share, 3),
                            "usual_share_outside": round(usual_share, 3),
                            "outside_territories": obs.oot_top or [],
                        },
                    )
                )
                points += territory

        # Off-hours: only for data that actually leaves, and only when both the
        # directory and the learned profile (where each is known) say it is odd.
        if off is not None and (volume > 0 or territory > 0 or rows >= 4 * s.min_rows):
            size = min(1.0, math.log1p(rows) / math.log1p(20 * s.min_rows))
            # The dead of night weighs more than a late evening.
            depth = 1.0
            if obs.rec is not None:
                gap = minutes_outside(obs.rec, obs.how, obs.minute)
                if gap is not None:
                    depth = min(1.0, max(0.25, (gap - s.offhours_margin_minutes) / 240))
            pts = s.offhours_points * size * depth
            reasons.append(Reason("off_hours", f"{verb} {_n(rows)} rows {off}", pts,
                                  {"local_time": fmt_minute(obs.minute)}))
            points += pts

        # Customer value: weighs what is already anomalous.
        if points > 0 and ev.tiers:
            share = high_tier_share(ev)
            if share > 0.2:
                pts = s.tier_points * share
                high = ev.tiers.get("high", 0)
                reasons.append(
                    Reason(
                        "high_value_customers",
                        f"{_n(high)} rows of high-value customers ({round(share * 100)}%)",
                        pts,
                        {"tiers": dict(ev.tiers)},
                    )
                )
                points += pts
        return points, cold

    def _off_hours(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline) -> str | None:
        s = self.s
        rec = obs.rec
        by_dir = (
            in_working_hours(rec, obs.how, obs.minute, s.offhours_margin_minutes)
            if rec is not None
            else None
        )
        if by_dir is True:
            return None
        profile = emp.hours if emp.hours.active >= s.profile_min_active_hours else None
        if profile is None and peer.hours.active >= s.profile_min_active_hours * 4:
            profile = peer.hours
        rare_profile: bool | None = None
        if profile is not None:
            week, day = profile.typicality(obs.how)
            rare_profile = day < s.rare_hour and week < 2 * s.rare_hour
        if rare_profile is False or (by_dir is None and rare_profile is None):
            return None
        when = f"at {fmt_minute(obs.minute)} local on {DAY_NAMES[obs.how // 24]}"
        parts = []
        if by_dir is False and rec is not None:
            parts.append("outside working hours" + _hours_text(rec))
        if rare_profile:
            parts.append("rare in own history" if profile is emp.hours else "rare for peers")
        return when + ", " + " and ".join(parts)

    def _harvest(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
        reasons: list[Reason],
    ) -> bool:
        """Breadth (distinct customers this hour) and pace (the last ten minutes);
        the stronger one speaks."""
        s = self.s
        best: tuple[float, str, float, float, bool] | None = None
        for key, q in (("distinct_viewed_1h", obs.viewed), ("distinct_viewed_10m", obs.viewed_10m)):
            floor = s.harvest_min_distinct if key == "distinct_viewed_1h" else s.pace_min_distinct
            if q < floor:
                continue
            band, cold = self._band(key, obs.ev.ts, emp, peer, glob)
            excess = (math.log1p(q) - band) / LN2
            if best is None or excess > best[0]:
                best = (excess, key, q, band, cold)
        if best is None:
            return False
        excess, key, q, band, cold = best
        if excess <= 0:
            return cold
        pts = min(s.volume_cap, s.points_per_doubling * excess)
        usual = math.expm1(band)
        basis = "peer group" if cold else "own baseline"
        if key == "distinct_viewed_1h":
            text = (f"viewed {_n(q)} distinct customers this hour; usual up to {_n(usual)} "
                    f"({basis})")
            details = {"distinct_customers_1h": round(q), "usual_max": round(usual)}
        else:
            text = (f"viewed {_n(q)} distinct customers in the last 10 minutes; usual up to "
                    f"{_n(usual)} ({basis})")
            details = {"distinct_customers_10m": round(q), "usual_max": round(usual)}
        reasons.append(Reason("view_harvesting", text, pts, details))
        return cold

    def _identity(
        self, obs: Observation, emp: EmployeeBaseline, reasons: list[Reason], data_points: float
    ) -> None:
        s = self.s
        ev = obs.ev
        mature = (
            emp.n_events >= s.identity_min_events
            and ev.ts - emp.first_ts >= s.identity_min_days * 86400
        )
        if mature:
            if ev.device_id is not None and stable_hash(ev.device_id) not in emp.devices:
                pts = s.new_device_points * (2.0 if ev.data_out else 1.0)
                reasons.append(Reason("new_device", f"{ev.action} from a device not seen before",
                                      pts))
            if ev.country is not None and stable_hash(ev.country) not in emp.countries:
                pts = s.new_country_points * (1.5 if ev.data_out else 1.0)
                reasons.append(
                    Reason("new_country", f"{ev.action} from {ev.country}, a country not seen "
                           "before for this employee", pts, {"country": ev.country})
                )
        if ev.lat is not None and ev.lon is not None and emp.geo is not None:
            lat, lon, ts0, place0 = emp.geo
            if (lat != ev.lat or lon != ev.lon) and ev.ts >= ts0:
                km = distance_km(lat, lon, ev.lat, ev.lon)
                if km >= s.travel_min_km and _cell(ev.lat, ev.lon) not in emp.places:
                    hours = max((ev.ts - ts0) / 3600.0, 1 / 60)
                    speed = km / hours
                    if speed > s.travel_max_kmh:
                        place = _place(ev)
                        pts = s.travel_points + (10.0 if data_points > 0 else 0.0)
                        reasons.append(
                            Reason(
                                "impossible_travel",
                                f"{place0} then {place}: {_n(km)} km in "
                                f"{_n((ev.ts - ts0) / 60)} min ({_n(speed)} km/h)",
                                pts,
                                {"km": round(km), "minutes": round((ev.ts - ts0) / 60, 1),
                                 "kmh": round(speed)},
                            )
                        )

    # -- learning ------------------------------------------------------------

    def learn(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
        suspicious: bool,
        cold: bool = False,
    ) -> None:
        """Fold the event into the baselines; suspicious events only into facts.

        Windows and location are facts and always move; what is *usual* (volumes,
        hours, territories, devices) only learns from events that raised nothing.
        """
        ev = obs.ev
        if emp.n_events == 0:
            emp.first_ts = ev.ts
            if math.isnan(peer.first_ts):
                peer.first_ts = ev.ts
            if math.isnan(glob.first_ts):
                glob.first_ts = ev.ts
        emp.n_events += 1
        emp.last_ts = ev.ts
        if ev.lat is not None and ev.lon is not None:
            emp.geo = (ev.lat, ev.lon, ev.ts, _place(ev))
        if suspicious:
            emp.cusum = 0.0  # the rise has been reported; start counting afresh
            emp.cusum_days = 0
            emp.day_rise, emp.day_rise_days = 0.0, 0
            if not cold:
                if ev.action == "view":
                    emp.viewed.flagged = True
                elif ev.data_out:
                    emp.flags |= emp.HOUR_FLAGGED | emp.DAY_FLAGGED
                return
            # Judged against the peer group, not this baseline: the employee's
            # own baseline may learn it; the peer group's may not.
            if ev.data_out:
                small = obs.rows < self.s.band_min_rows
                emp.learn_one({"rows": obs.rows, "ts": ev.ts, "small": small})
            return
        if emp.hours.add(obs.abs_hour, obs.how):
            peer.hours.bump(obs.how)
            if glob is not peer:
                glob.hours.bump(obs.how)
        if ev.device_id is not None:
            emp.devices.update(stable_hash(ev.device_id))
        if ev.country is not None:
            emp.countries.update(stable_hash(ev.country))
        if ev.source_ip is not None:
            emp.ips.update(stable_hash(ev.source_ip))
        if ev.lat is not None and ev.lon is not None:
            emp.places.update(_cell(ev.lat, ev.lon))
        if ev.data_out:
            x: dict[Hashable, Any] = {
                "rows": obs.rows, "ts": ev.ts, "small": obs.rows < self.s.band_min_rows
            }
            if obs.cusum_gain is not None:
                emp.cusum_day, emp.cusum_gain = obs.abs_hour // 24, obs.cusum_gain
            emp.cusum = obs.cusum
            emp.cusum_days = obs.cusum_days
            emp.learn_one(x)
            peer.learn_one(x)
            if glob is not peer:
                glob.learn_one(x)
            if ev.territories:
                emp.learn_territories(ev.territories)
            if obs.oot_share is not None:
                emp.oot.update(obs.oot_share)
            peer.note_export(
                ev.employee_id, ev.ts, obs.own_excess is not None and obs.own_excess > 0
            )

    def note_elevated(self, obs: Observation, peer: PeerBaseline) -> None:
        """An alerted data-out still counts towards the peer group's surge detector."""
        if obs.ev.data_out:
            peer.note_export(
                obs.ev.employee_id, obs.ev.ts, obs.own_excess is not None and obs.own_excess > 0
            )


_VERBS = {"export": "exported", "download": "downloaded", "print": "printed",
          "bulk_api": "pulled via bulk API"}


def _rise_step(anchor: EWStat, value: float, allowance: float, day: int) -> float:
    """One step of an escalation sum: ``value`` against ``anchor`` in capped sds.

    The spread is capped too: for someone whose exports range from 1 to 200
    rows, a doubling of the typical is still a rise worth summing.  The step is
    capped both ways, so one spike (the volume signal's job) cannot fill the
    sum and one tiny export cannot empty it; a month-end close is not a rise.
    """
    z = (math.log1p(value) - anchor.mean) / min(max(anchor.sd, LOG_SD_FLOOR), 1.0)
    step = min(max(z, -1.0), CUSUM_STEP_CAP) - allowance
    if step > 0 and is_month_end(day):
        return 0.0
    return step


def _cell(lat: float, lon: float) -> int:
    """A stable id for the 1-degree cell around a location."""
    return (int(lat + 90) * 361 + int(lon + 180)) & 0xFFFFFFFF


def _place(ev: Event) -> str:
    if ev.city and ev.country:
        return f"{ev.city}, {ev.country}"
    return ev.city or ev.country or f"({ev.lat:.1f}, {ev.lon:.1f})"


def _date_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _local_date(obs: Observation) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(obs.abs_hour * 3600))


def _hours_text(rec: EmployeeRecord) -> str:
    if rec.work_start is None or rec.work_end is None:
        return ""
    days = ""
    if rec.working_days is not None:
        names = [DAY_NAMES[d] for d in sorted(rec.working_days)]
        days = f"{names[0]}–{names[-1]} " if len(names) > 1 else f"{names[0]} "
    return f" ({days}{fmt_minute(rec.work_start)}–{fmt_minute(rec.work_end)} {rec.tz_name})"
