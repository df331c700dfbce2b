"""Volume: rows out in one action, the last hour and the last 24 hours, and the
number of data-out actions in 24 hours (chunking); the strongest speaks."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, ClassVar

from detector.scoring.bands import LN2, band, basis
from detector.scoring.calendar import is_month_end
from detector.scoring.observation import Observation
from detector.scoring.off_hours import odd_hours
from detector.scoring.signal import DATA_OUT, VERBS, BaseSignal, Case, n
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.peer_table import SharedPeer
from models.volume import ClosedPeriods

_CODES = {"rows": "volume_action", "rows_1h": "volume_1h", "rows_24h": "volume_24h",
          "actions_24h": "chunked_exports"}


def learn_closed(closed: ClosedPeriods, ts: float, emp: EmployeeBaseline, peer: PeerBaseline,
                 glob: PeerBaseline) -> None:
    """Teach the finished hour's and day's totals to all three baselines.

    Learning finished periods, not the running sum at each action, is what
    lets chunked exports add up.  The ``Scorer`` calls this once every signal
    has observed the event, so each sees the baselines as they were.
    """
    done: dict[Hashable, Any] = {}
    if closed.hour_total is not None:
        done["rows_1h"] = closed.hour_total
    if closed.day_total is not None:
        done["rows_24h"] = closed.day_total
    if closed.day_actions is not None:
        done["actions_24h"] = closed.day_actions
    emp.learn_one({**done, "ts": ts})
    peer.learn_one(done)
    if glob is not peer:
        glob.learn_one(done)


class Volume(BaseSignal):
    """Doublings above the top of the usual range, in points, capped."""

    codes: ClassVar[tuple[str, ...]] = tuple(_CODES.values())
    observes = assesses = learns = refuses = frozenset({DATA_OUT})

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        ev = obs.ev
        if ev.data_out:
            obs.rows = ev.record_count
            obs.actions_today, obs.rows_1h, obs.rows_24h = emp.count_data_out(
                ev.ts, ev.record_count)

    def assess(self, case: Case) -> None:
        ev = case.obs.ev
        if not ev.data_out:
            return
        s, obs, rec, emp = self.s, case.obs, case.obs.rec, case.emp
        rows = obs.rows
        best: tuple[float, str, float, float] | None = None
        off = odd_hours(case)
        ordinary = off is None and (rec is None or rec.status == "active")
        # Month-end closes legitimately multiply data pulls; someone under notice
        # gets no such benefit of the doubt.
        tolerance = 0.0
        if (rec is None or rec.status != "notice") and is_month_end(obs.abs_hour // 24):
            tolerance = s.month_end_tolerance
        cold = False
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
                top, is_cold = band(s, key, ev.ts, emp, case.peer, case.glob, ordinary)
                # A close brings bigger pulls, not dozens of small ones: the
                # allowance is for volume, and chunking gets none of it.
                allowance = 0.0 if key == "actions_24h" else tolerance
                excess = (math.log1p(q) - top) / LN2 - allowance
                per = (
                    s.points_per_doubling_actions if key == "actions_24h"
                    else s.points_per_doubling
                )
                # The strongest quantity speaks: compared in points, since a
                # doubling of actions weighs more than a doubling of rows.
                if best is None or per * excess > best[0]:
                    best = (per * excess, key, q, top)
                    cold = is_cold
            # Own-only excess for the peer group's surge detector.
            if emp.stat("rows").n >= s.own_warmup:
                obs.own_excess = (math.log1p(rows) - emp.band("rows", s.k_band)) / LN2
        case.cold = cold
        if best is None or best[0] <= 0:
            return
        raw_points, key, q, top = best
        volume = min(s.volume_cap, raw_points)
        usual = math.expm1(top)
        peers = case.peer.member_count() if cold and isinstance(case.peer, SharedPeer) else None
        source = basis(cold, peers)
        if key == "rows":
            verb = VERBS.get(ev.action, ev.action)
            text = f"{verb} {n(q)} rows in one action; usual up to {n(usual)} ({source})"
        elif key == "rows_1h":
            text = f"{n(q)} rows out in the last hour; usual up to {n(usual)} ({source})"
        elif key == "actions_24h":
            text = (
                f"{n(q)} data-out actions in 24 h ({n(obs.rows_24h)} rows); "
                f"usual up to {n(usual)} a day ({source})"
            )
        else:
            text = f"{n(q)} rows out in 24 h; usual up to {n(usual)} ({source})"
        if tolerance:
            text += "; month-end allowance applied"
        details: dict[str, object] = {
            "month_end": bool(tolerance),
            "rows": rows,
            "rows_1h": round(obs.rows_1h),
            "rows_24h": round(obs.rows_24h),
            "usual_max": round(usual),
            "times_usual_max": round(q / max(usual, 1.0), 1),
            "basis": source,
        }
        case.add(Reason(_CODES[key], text, volume, details), data_out=True)
        case.volume_points = volume

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        ev = obs.ev
        x: dict[Hashable, Any] = {"rows": obs.rows, "ts": ev.ts,
                                  "small": obs.rows < self.s.band_min_rows}
        emp.learn_one(x)
        peer.learn_one(x)
        if glob is not peer:
            glob.learn_one(x)
        peer.note_export(ev.employee_id, ev.ts, obs.own_excess is not None and obs.own_excess > 0)

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        if not cold:
            emp.flag_data_out()  # its hour and day are not learned either
        else:
            # Judged against the peer group, not this baseline: the employee's
            # own baseline may learn it; the peer group's may not.
            emp.learn_one({"rows": obs.rows, "ts": obs.ev.ts,
                           "small": obs.rows < self.s.band_min_rows})


class PeerSurge(BaseSignal):
    """Many of the peer group moving unusual volumes the same day is a collective
    pattern (a month-end in finance), not a dozen insiders: volume points are cut."""

    codes: ClassVar[tuple[str, ...]] = ("peer_surge",)
    assesses = frozenset({DATA_OUT})

    def assess(self, case: Case) -> None:
        if case.volume_points <= 0:
            return
        s, ev, rec = self.s, case.obs.ev, case.obs.rec
        elevated, exporting = case.peer.surge(ev.employee_id, ev.ts, s.surge_min_others,
                                              s.surge_min_share)
        if elevated:
            cut = -(1 - s.surge_factor) * case.volume_points
            # A shared peer table shows the group's days once every task closed them.
            when = "yesterday" if isinstance(case.peer, SharedPeer) else "today"
            case.add(Reason(
                "peer_surge",
                f"{elevated} of {exporting} peers in "
                f"{rec.peer_group if rec else 'the group'} "
                f"also moved unusual volumes {when}: a collective pattern",
                cut,
                {"peers_elevated": elevated, "peers_exporting": exporting},
            ), data_out=True)
            case.volume_points += cut


def note_elevated(obs: Observation, peer: PeerBaseline) -> None:
    """An alerted data-out still counts towards the peer group's surge detector."""
    if obs.ev.data_out:
        peer.note_export(
            obs.ev.employee_id, obs.ev.ts, obs.own_excess is not None and obs.own_excess > 0
        )
