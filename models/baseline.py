"""Behaviour baselines: one per employee, one per peer group, one global.

Each is a River anomaly detector (``learn_one``/``score_one`` on a feature
dict) so analysts can drive it from notebooks like any River model; the
engine calls the typed methods directly on the hot path.  Volumes are learned
in ``log1p`` space, where "ten times more" is the same distance for a rep who
exports 20 rows and a marketer who exports 5,000.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from river import stats

from models.breadth import Breadth
from models.departure import NoticeWindow
from models.pace import Pace
from models.stats import DistinctCounter, EWStat, PacedCounter, RecentSet, WindowSum, stable_hash
from models.views import ViewHistory
from models.volume import PEAK_KEYS, ClosedPeriods, VolumeBaseline, all_slots

# Learning rates.  Own baselines forget in about 20 observations; the anchor
# remembers about 100 and, once settled, moves by at most ``ANCHOR_RISE`` (log
# units) per observation: a fifth in a month of one export a day.
OWN_ALPHA = 0.05
ANCHOR_ALPHA = 0.01
ANCHOR_RISE = 0.006
PEER_ALPHA = 0.01
PEAK_MEMORY = 30 * 86400.0  # seconds for a peak to fade to 1/e of its height
MAX_TERRITORIES = 12

class PeerBaseline(VolumeBaseline):
    """What a peer group (or everyone) usually does, for cold starts and context.

    It also tracks who in the group moved unusually much data today, so that a
    month-end in finance reads as a collective pattern, not twelve insiders.
    """

    __slots__ = ("elevated", "exporters", "q99")

    # How far back "the group is doing this too" looks.
    SURGE_WINDOW = 86400.0

    def __init__(self, alpha: float = PEER_ALPHA) -> None:
        super().__init__(alpha)
        # What the busiest 1% of the group's actions, hours and days move
        # (log1p rows): the ceiling of "normal for this job".
        self.q99 = {key: stats.Quantile(0.99) for key in PEAK_KEYS}
        # Member -> time of their last data-out / last unusually large data-out.
        self.exporters: dict[str, float] = {}
        self.elevated: dict[str, float] = {}

    @property
    def alpha(self) -> float:
        return self.rows.alpha

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        super().learn_one(x)
        for key in PEAK_KEYS:
            v = x.get(key)
            if v is not None:
                self.q99[key].update(math.log1p(v))

    def ceiling(self, key: str) -> float | None:
        q = self.q99.get(key)
        if q is None or self.stat(key).n < 100:
            return None
        got = q.get()
        return float(got) if got is not None else None

    def learn_views(self, distinct: float, peak: float | None) -> None:
        """A member's finished hour of views: distinct customers, busiest ten minutes
        (both log1p)."""
        self.views.update(distinct)
        if peak is not None:
            self.views_10m.update(peak)

    def note_export(self, employee_id: str, ts: float, elevated: bool) -> None:
        self.exporters[employee_id] = ts
        if elevated:
            self.elevated[employee_id] = ts

    def surge(
        self, employee_id: str, ts: float, min_others: int, min_share: float
    ) -> tuple[int, int]:
        """Others elevated and others exporting in the last day, when that is a surge.

        Returns ``(0, exporting)`` when it is not.
        """
        since = ts - self.SURGE_WINDOW
        others_elevated = sum(
            1 for e, t in self.elevated.items() if e != employee_id and since <= t <= ts
        )
        others = sum(1 for e, t in self.exporters.items() if e != employee_id and since <= t <= ts)
        if others_elevated >= min_others and others_elevated >= min_share * max(others, 1):
            return (others_elevated, others)
        return (0, others)

    def __getstate__(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in all_slots(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


class EmployeeBaseline(VolumeBaseline, ViewHistory):
    """One employee's learned behaviour and the short windows scored against it."""

    __slots__ = (
        "anchor", "anchor_24h", "breadth", "countries", "cusum", "cusum_day", "cusum_days",
        "cusum_gain", "day_actions", "day_key", "day_rise", "day_rise_days", "day_rows",
        "devices", "flags", "geo", "hour_key", "hour_rows", "ips", "job", "last_ts", "n_events",
        "notice", "oot", "pace", "peaks", "places", "terr", "viewed", "viewed_10m", "w1h",
        "w24h", "w24n",
    )

    HOUR_FLAGGED = 1
    DAY_FLAGGED = 2

    def __init__(self, alpha: float = OWN_ALPHA) -> None:
        super().__init__(alpha)
        self.anchor = EWStat(ANCHOR_ALPHA, max_rise=ANCHOR_RISE)
        self.anchor_24h = EWStat(ANCHOR_ALPHA, max_rise=ANCHOR_RISE * 3)
        # One-sided CUSUM of log rows above the anchor, in anchor sds: it
        # accumulates a sustained rise that no single export would reveal.
        self.cusum = 0.0
        # The rise may grow by a bounded amount per local day, so only a rise
        # sustained over many days (not a three-day month-end) fills it.
        self.cusum_day = -1
        self.cusum_gain = 0.0
        self.cusum_days = 0  # separate days that added to the current rise
        # The same sum over finished days' totals against ``anchor_24h``: a
        # rise in the daily volume that one-row downloads between exports
        # cannot drain.  Committed when a day closes.
        self.day_rise = 0.0
        self.day_rise_days = 0
        # Largest learned log rows per action and per day, with when they were
        # seen: a nightly 8,000-row sync is usual once seen, however rare among
        # the day's small calls.  [rows, ts, rows_1h, ts, rows_24h, ts]
        self.peaks = array("d", bytes(8 * 6))
        self.oot = EWStat(0.05, clip=math.inf)
        self.w1h = WindowSum(300, 12)
        self.w24h = WindowSum(3600, 24)
        # Data-out actions in the last 24 h: a rolling count, so a run of chunks
        # is not cut in two by local midnight.
        self.w24n = WindowSum(3600, 24)
        # Rows out in the current local hour / day, learned when it closes.
        self.hour_key = -1
        self.hour_rows = 0.0
        self.day_key = -1
        self.day_rows = 0.0
        self.day_actions = 0
        self.flags = 0
        self.viewed = DistinctCounter()
        self.viewed_10m = PacedCounter()
        self.devices = RecentSet(8)
        self.ips = RecentSet(16)
        self.countries = RecentSet(8)
        # Places (1-degree cells) this employee is seen at: hopping between two
        # known offices or VPN exits is not travel.
        self.places = RecentSet(8)
        self.terr: dict[str, float] = {}
        # (lat, lon, ts, place) of the last located event.
        self.geo: tuple[float, float, float, str] | None = None
        self.n_events = 0
        self.last_ts = math.nan
        # (id of the directory version last seen, hash of role/group/territories).
        self.job = (0, 0)
        self.breadth = Breadth()  # repeated look-ups, mass deletes and updates
        self.pace = Pace()  # data-out actions over a sliding ten minutes
        self.notice = NoticeWindow()  # rows out per working day, before notice and since

    def new_job(self) -> None:
        """Role or territories changed: volumes and territory mix start afresh.

        A reassigned rep exports different accounts in different amounts; judging
        that against the old job's anchor would read it as an escalation.
        """
        self.anchor = EWStat(ANCHOR_ALPHA, max_rise=ANCHOR_RISE)
        self.anchor_24h = EWStat(ANCHOR_ALPHA, max_rise=ANCHOR_RISE * 3)
        self.cusum, self.cusum_days, self.cusum_gain, self.cusum_day = 0.0, 0, 0.0, -1
        self.day_rise, self.day_rise_days = 0.0, 0
        self.oot = EWStat(0.05, clip=math.inf)
        self.terr = {}

    @property
    def alpha(self) -> float:
        return self.rows.alpha

    # -- update rules the signals apply --------------------------------------

    def follows(self, version: int) -> bool:
        """Whether ``version`` (the id of a directory record) was seen last."""
        return self.job[0] == version

    def take_job(self, version: int, job: int) -> None:
        """The directory record in force; a different job (hash of role, group
        and territories) than the one learned starts volumes afresh."""
        if self.job[1] not in (0, job):
            self.new_job()
        self.job = (version, job)

    def note_event(self, ts: float, geo: tuple[float, float, float, str] | None,
                   counted: bool = False) -> bool:
        """Count an event and its location (facts, learned whatever it raised);
        ``counted``: it was counted when first seen, only its location moves.

        Returns whether it was the employee's first.
        """
        if geo is not None:
            self.geo = geo
        if counted:
            return False
        first = self.n_events == 0
        if first:
            self.first_ts = ts
        self.n_events += 1
        self.last_ts = ts
        return first

    def close(self, abs_hour: int) -> ClosedPeriods | None:
        """``close_periods`` with the day it closed; None when nothing is to be learned."""
        day = self.day_key
        hour_total, day_total, day_actions = self.close_periods(abs_hour)
        if hour_total is None and day_total is None:
            return None
        return ClosedPeriods(day, hour_total, day_total, day_actions)

    def count_data_out(self, ts: float, rows: int) -> tuple[int, float, float]:
        """Add a data-out action to the open periods and rolling windows.

        Returns the data-out actions in the last 24 h and the rows out in the
        last hour and 24 h.
        """
        self.hour_rows += rows
        self.day_rows += rows
        self.day_actions += 1
        self.w24n.update(ts, 1)
        actions = round(self.w24n.get_at(ts))
        self.w1h.update(ts, rows)
        self.w24h.update(ts, rows)
        return actions, self.w1h.get_at(ts), self.w24h.get_at(ts)

    def add_day_rise(self, step: float) -> None:
        """A finished day's step of the daily rise (it never goes below zero)."""
        self.day_rise = max(0.0, self.day_rise + step)
        self.day_rise_days = 0 if self.day_rise == 0 else self.day_rise_days + (step > 0)

    def commit_rise(self, cusum: float, days: int, day: int, gain: float | None) -> None:
        """The per-export rise after a learned data-out; ``gain``: what it added
        today, when it rose."""
        if gain is not None:
            self.cusum_day, self.cusum_gain = day, gain
        self.cusum = cusum
        self.cusum_days = days

    def reset_rises(self) -> None:
        """A rise was reported: both sums start counting afresh."""
        self.cusum = 0.0
        self.cusum_days = 0
        self.day_rise, self.day_rise_days = 0.0, 0

    def flag_data_out(self) -> None:
        """An alerted data-out: its hour and day are not learned."""
        self.flags |= self.HOUR_FLAGGED | self.DAY_FLAGGED

    def anchor_of(self, key: str) -> EWStat:
        """The slow anchor of single exports (``rows``) or of daily totals (``rows_24h``)."""
        return self.anchor if key == "rows" else self.anchor_24h

    def rise(self) -> tuple[float, int, int, float]:
        """The per-export rise: its sum, the separate days it grew on, the last day
        it grew and what it gained that day."""
        return self.cusum, self.cusum_days, self.cusum_day, self.cusum_gain

    def day_rise_so_far(self) -> tuple[float, int, float]:
        """The daily rise up to yesterday, its rising days, and today's rows out."""
        return self.day_rise, self.day_rise_days, self.day_rows

    def maturity(self) -> tuple[int, float]:
        """Events seen and the time of the first."""
        return self.n_events, self.first_ts

    def usual_outside_share(self, min_n: int = 3) -> float:
        """The usual share of rows outside the territories (0 until ``min_n`` learned)."""
        return self.oot.mean if self.oot.n >= min_n else 0.0

    def learn_identity(self, device: str | None, country: str | None, ip: str | None) -> None:
        if device is not None:
            self.devices.update(stable_hash(device))
        if country is not None:
            self.countries.update(stable_hash(country))
        if ip is not None:
            self.ips.update(stable_hash(ip))

    def knows_device(self, h: int) -> bool:
        return h in self.devices

    def knows_country(self, h: int) -> bool:
        return h in self.countries

    def knows_place(self, cell: int) -> bool:
        return cell in self.places

    def learn_place(self, cell: int) -> None:
        self.places.update(cell)

    def last_location(self) -> tuple[float, float, float, str] | None:
        """(lat, lon, ts, place) of the last located event."""
        return self.geo

    def learn_outside_share(self, share: float) -> None:
        self.oot.update(share)

    def close_periods(
        self, abs_hour: int
    ) -> tuple[float | None, float | None, int | None]:
        """Close the local hour / day if ``abs_hour`` is past it.

        Returns the finished hour's and day's data-out totals when they should
        be learned (something moved out and nothing in them raised an alert).
        """
        hour_total = day_total = None
        day_actions = None
        if abs_hour > self.hour_key:
            if self.hour_rows > 0 and not self.flags & self.HOUR_FLAGGED:
                hour_total = self.hour_rows
            self.hour_key, self.hour_rows = abs_hour, 0.0
            self.flags &= ~self.HOUR_FLAGGED
        day = abs_hour // 24
        if day > self.day_key:
            if self.day_actions > 0 and not self.flags & self.DAY_FLAGGED:
                day_total = self.day_rows
                day_actions = self.day_actions
            self.day_key, self.day_rows, self.day_actions = day, 0.0, 0
            self.flags &= ~self.DAY_FLAGGED
        return hour_total, day_total, day_actions

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        super().learn_one(x)
        ts = float(x.get("ts", 0.0))
        for i, key in enumerate(PEAK_KEYS):
            raw = x.get(key)
            if raw is None:
                continue
            v = math.log1p(raw)
            if key == "rows":
                self.anchor.update(v)
            elif key == "rows_24h":
                self.anchor_24h.update(v)
            if v >= self.peak(key, ts):
                self.peaks[2 * i], self.peaks[2 * i + 1] = v, ts

    def peak(self, key: str, ts: float) -> float:
        """The largest learned value, fading back to the mean over ``PEAK_MEMORY``."""
        i = 2 * PEAK_KEYS.index(key)
        peak, seen = self.peaks[i], self.peaks[i + 1]
        mean = self.stat(key).mean
        if peak <= mean:
            return mean
        return mean + (peak - mean) * math.exp(-max(0.0, ts - seen) / PEAK_MEMORY)

    def band(self, key: str, k: float, ts: float | None = None) -> float:
        """Top of the usual range in log1p units.

        The anchor caps upward drift of the spread-based band; a recently seen
        peak (learned, so never an alerted export) widens it.
        """
        b = self.stat(key).band(k)
        if key == "rows" and self.anchor.n:
            b = min(b, self.anchor.band(k))
        elif key == "rows_24h" and self.anchor_24h.n:
            b = min(b, self.anchor_24h.band(k))
        if ts is not None and key in PEAK_KEYS:
            b = max(b, self.peak(key, ts))
        return b

    def learn_territories(self, counts: dict[str, int]) -> None:
        terr = self.terr
        for t, c in counts.items():
            terr[t] = terr.get(t, 0.0) + c
        if len(terr) > MAX_TERRITORIES:
            for t in sorted(terr, key=terr.__getitem__)[: len(terr) - MAX_TERRITORIES]:
                del terr[t]
        total = sum(terr.values())
        if total > 1e9:
            for t in terr:
                terr[t] /= 2.0

    def usual_territories(self, min_share: float = 0.1) -> list[str]:
        total = sum(self.terr.values())
        if not total:
            return []
        return sorted(t for t, c in self.terr.items() if c / total >= min_share)

    def __getstate__(self) -> dict[str, Any]:
        state = {s: getattr(self, s) for s in all_slots(type(self))}
        # job[0] names a directory record object of this process; only the job's
        # hash is learned.  Left out, a restored or copied baseline checks its
        # record afresh, and equal baselines pickle to equal bytes.
        state["job"] = (0, self.job[1])
        state["notice"] = self.notice.__getstate__()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.breadth = Breadth()  # checkpoints written before they existed
        self.pace = Pace()
        self.notice = NoticeWindow()
        for k, v in state.items():
            setattr(self, k, v)
        if isinstance(self.notice, tuple):
            self.notice = NoticeWindow.from_state(self.notice)


@dataclass(slots=True)
class Baselines:
    """One partition's learned state: what a bundle carries, an engine exports or adopts."""

    employees: dict[str, EmployeeBaseline]
    peers: dict[str, PeerBaseline]
    glob: PeerBaseline
    table: Any = None  # shared peers: the one PeerTable (peers, glob: handles on it)
    origin: str = ""  # the bundle the table came from (PeerTable.seed)
