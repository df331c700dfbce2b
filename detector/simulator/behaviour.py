"""Ordinary working days: when people work, in which sessions, and what they do in the CRM.

Everything here is what the company considers normal; scenarios are planted elsewhere.
Per person the planner only decides the day's shape (stretches of work and the few data-out
actions); the bulk of events for everyone is then drawn in one vectorised pass, which keeps
100,000 employees affordable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.simulator.customers import CustomerPool
from detector.simulator.drafts import (
    ACTION_CODE,
    ACTIONS,
    CITY_GEO,
    EMPTY,
    NO_SESSION,
    OBJECT_CODE,
    Extra,
    Extras,
    blank,
    concat,
    omissions,
)
from detector.simulator.geography import (
    MINUTE_US,
    local_to_utc_array,
    midnight_us,
    utc_local_minutes,
    utc_offset_minutes,
)
from detector.simulator.payloads import data_out
from detector.simulator.period import Period
from detector.simulator.roles import ROLES, TERRITORY_BOUND
from detector.simulator.workforce import (
    API,
    API_STYLE,
    CARRIER,
    FORMAT_STYLES,
    HOME,
    MOBILE,
    MOBILE_STYLE,
    OFFICE,
    PRECISION_US,
    Employee,
)

DAY_FACTOR = (1.05, 1.05, 1.0, 1.0, 0.85, 0.9, 0.9)
SESSION_GAP_MIN = 35.0
BLOCK = 4_000
LOGIN, LOGOUT = ACTION_CODE["login"], ACTION_CODE["logout"]
VIEW, SEARCH, REPORT = ACTION_CODE["view"], ACTION_CODE["search"], ACTION_CODE["report_run"]
CREATE, UPDATE = ACTION_CODE["create"], ACTION_CODE["update"]
DELETE, SHARE = ACTION_CODE["delete"], ACTION_CODE["share"]
EXPORT, BULK = ACTION_CODE["export"], ACTION_CODE["bulk_api"]


def _table(*codes: int) -> np.ndarray:
    out = np.zeros(len(ACTIONS), dtype=bool)
    out[list(codes)] = True
    return out


RECORD_LIKE = _table(VIEW, SEARCH, CREATE, UPDATE, DELETE)
ONE_ROW = _table(VIEW, CREATE, UPDATE, DELETE)
_SALES_OBJECTS = np.array([OBJECT_CODE[o] for o in ("account", "contact", "opportunity", "lead")],
                          dtype=np.int8)
_SALES_OBJECT_P = np.array([0.45, 0.30, 0.15, 0.10])
_SUPPORT_OBJECTS = np.array([OBJECT_CODE[o] for o in ("case", "contact", "account")],
                            dtype=np.int8)
_SUPPORT_OBJECT_P = np.array([0.55, 0.30, 0.15])
_REPORT_MEDIAN = {"sales_rep": 40, "account_manager": 60, "sales_manager": 300,
                  "support_agent": 20, "marketing": 800, "analyst": 2000, "finance": 500,
                  "sales_ops": 400, "integration": 100}
_ROLE_INDEX = {r.name: i for i, r in enumerate(ROLES)}
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Segment:
    """A stretch of work at one place, in local minutes after midnight of ``ordinal``."""

    emp: int
    tz: str
    ordinal: int
    m0: float
    m1: float
    loc: int
    volume: float
    main: bool
    lunch: float
    mobile_p: float


class DayPlanner:
    """Plans everyone's ordinary day; payloads of data-out actions go to ``extras``."""

    def __init__(self, seed: int, period: Period, customers: CustomerPool, extras: Extras,
                 activity: float, staff: list[Employee]) -> None:
        self.seed = seed
        self.period = period
        self.customers = customers
        self.extras = extras
        self.activity = activity
        self.staff = staff
        self._tables(staff)

    # -- per-employee lookup tables -----------------------------------------------------

    def _tables(self, staff: list[Employee]) -> None:
        n = len(staff)
        self.role = np.array([_ROLE_INDEX[e.role.name] for e in staff], dtype=np.int8)
        self.style = np.array([e.fmt_style for e in staff], dtype=np.int8)
        self.support = np.array([e.role.name == "support_agent" for e in staff])
        self.report_median = np.array([_REPORT_MEDIAN[e.role.name] for e in staff], dtype=float)
        self.mobile_dev = np.full(n, -1, dtype=np.int8)
        self.second_dev = np.full(n, -1, dtype=np.int8)
        width = max(len(e.devices) for e in staff)
        self.dev_chan = np.zeros((n, width), dtype=np.int8)
        for i, e in enumerate(staff):
            for k, d in enumerate(e.devices):
                self.dev_chan[i, k] = d.channel
            ordinary = e.devices[:e.ordinary_devices]
            mob = next((k for k, d in enumerate(ordinary) if d.channel == MOBILE), None)
            if mob is not None:
                self.mobile_dev[i] = mob
            elif len(ordinary) > 1:
                self.second_dev[i] = 1
        self.new_dev_day = np.array([e.new_device_day if e.new_device_day is not None else -1
                                     for e in staff], dtype=np.int32)
        self.last_dev = np.array([len(e.devices) - 1 for e in staff], dtype=np.int8)
        books: list[np.ndarray] = []
        offset = 0
        self.book_off = np.zeros(n, dtype=np.int64)
        self.book_len = np.zeros(n, dtype=np.int64)
        self.new_book_at: dict[int, tuple[int, int, int]] = {}
        for i, e in enumerate(staff):
            self.book_off[i], self.book_len[i] = offset, len(e.book)
            books.append(e.book)
            offset += len(e.book)
            if e.new_book is not None and e.reassign_day is not None:
                self.new_book_at[i] = (e.reassign_day, offset, len(e.new_book))
                books.append(e.new_book)
                offset += len(e.new_book)
        self.books = np.concatenate(books) if books else np.zeros(0, dtype=np.int32)
        keys: dict[tuple[int, ...], int] = {}
        self.pool_of = np.zeros(n, dtype=np.int32)
        self.new_pool: dict[int, int] = {}
        for i, e in enumerate(staff):
            self.pool_of[i] = keys.setdefault(e.territory_pool_key(0), len(keys))
            if e.reassign_day is not None:
                self.new_pool[i] = keys.setdefault(e.territory_pool_key(e.reassign_day),
                                                   len(keys))
        pools = [self.customers.pool(k) for k in keys]
        self.pool_len = np.array([len(p) for p in pools], dtype=np.int64)
        self.pool_off = np.concatenate([[0], np.cumsum(self.pool_len)[:-1]]).astype(np.int64)
        self.pools = np.concatenate(pools)
        self.p_book = np.array([e.role.book if len(e.book) else 0.0 for e in staff])
        self.other = np.array([0.0 if e.all_territories else 0.03 for e in staff])
        self.flights = np.zeros((n, 4), dtype=np.int64)
        self.flights[:, 0] = self.flights[:, 2] = _NEVER
        for i, e in enumerate(staff):
            for trip in e.trips:
                self.flights[i] = (*trip.out_window, *trip.back_window)

    def keep(self, rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
        for key in rows["extra"][~mask & (rows["extra"] >= 0)].tolist():
            self.extras.pop(int(key))
        kept: np.ndarray = rows[mask]
        return kept

    # -- the day --------------------------------------------------------------------------

    def plan_day(self, day: int, members: list[Employee], salt: int) -> list[np.ndarray]:
        """The ordinary events of ``members`` on one day, unsorted, in a few large parts."""
        parts = []
        cut = np.full(len(self.staff), _NEVER, dtype=np.int64)
        for e in members:
            if e.last_day == day and e.terminated_us is not None:
                cut[e.index] = e.terminated_us
        for lo in range(0, len(members), BLOCK):
            rng = np.random.default_rng([self.seed, 7, day, salt, lo])
            segs: list[Segment] = []
            planned: list[tuple[int, float, int, int]] = []
            machines: list[np.ndarray] = []
            for emp in members[lo:lo + BLOCK]:
                if emp.role.name == "integration":
                    machines.append(self._service(emp, day, rng))
                    continue
                if not emp.employed_on(day):
                    continue
                for seg in self._segments(emp, day, rng):
                    if seg.main:
                        planned.extend(self._data_out(emp, day, seg, len(segs), rng))
                    segs.append(seg)
            rows = concat([self._materialise(day, segs, planned, rng), *machines])
            if len(rows):
                emp_r, t = rows["emp"], rows["t"]
                fl = self.flights[emp_r]
                mask = t < cut[emp_r]
                mask &= ~(((t >= fl[:, 0]) & (t <= fl[:, 1])) | ((t >= fl[:, 2]) & (t <= fl[:, 3])))
                parts.append(rows if mask.all() else self.keep(rows, mask))
        return parts

    # -- when and where -------------------------------------------------------------------

    def _base(self, emp: Employee, day: int) -> float:
        ramp = 1.0
        if emp.hire_day > 0:
            ramp = min(1.0, 0.4 + 0.2 * (day - emp.hire_day))
        return (emp.role.events_per_day * emp.activity * self.activity
                * DAY_FACTOR[self.period.weekdays[day]] * ramp)

    def _segments(self, emp: Employee, day: int, rng: np.random.Generator) -> list[Segment]:
        if emp.trip_on(day) is not None:
            return self._travel(emp, day, rng)
        return self._ordinary(emp, day, rng, emp.tz, self.period.ordinals[day], None)

    def _ordinary(self, emp: Employee, day: int, rng: np.random.Generator, tz: str,
                  ordinal: int, away: int | None) -> list[Segment]:
        weekday = self.period.weekdays[day]
        segs: list[Segment] = []
        u = rng.random(8)
        if weekday in emp.days:
            if not emp.steady and u[0] < 0.025:
                return segs
            base = self._base(emp, day)
            shift = emp.shift_minutes
            z0, z1 = rng.standard_normal(2).tolist()
            m0 = emp.start_min + 12 * z0 - (30 + 60 * u[4] if u[3] < 0.07 else 0.0)
            m1 = emp.start_min + shift + 15 * z1 + (30 + 120 * u[7] if u[6] < 0.10 else 0.0)
            if day == emp.last_day:
                m1 = m0 + (m1 - m0) * float(rng.uniform(0.5, 0.8))
            m0 = max(m0, 5.0)
            if away is not None:
                loc = away
            else:
                loc = HOME if rng.random() < (0.7 if emp.night else emp.wfh) else OFFICE
            lunch = 26 * 60.0 if emp.night else emp.lunch_min
            segs.append(Segment(emp.index, tz, ordinal, m0, m1, loc,
                                base * (m1 - m0) / shift, True, lunch, 0.06))
            if not emp.night and rng.random() < emp.role.evening:
                e0 = float(rng.uniform(19.5 * 60, 22.5 * 60))
                segs.append(Segment(emp.index, tz, ordinal, e0, e0 + float(rng.uniform(5, 40)),
                                    away if away is not None else HOME,
                                    float(rng.uniform(2, 10)), False, math.nan, 0.6))
        elif u[0] < emp.role.weekend:
            w0 = 9 * 60 + 660 * u[1]
            segs.append(Segment(emp.index, tz, ordinal, w0, w0 + 10 + 50 * u[2],
                                away if away is not None else HOME, 3 + 12 * u[3], False,
                                math.nan, 0.5))
        return segs

    def _travel(self, emp: Employee, day: int, rng: np.random.Generator) -> list[Segment]:
        trip = emp.trip_on(day)
        assert trip is not None
        ordinal = self.period.ordinals[day]
        dest = trip.destination
        if trip.depart_day < day < trip.return_day:
            return self._ordinary(emp, day, rng, dest.tz, ordinal, trip.location)
        base = self._base(emp, day)
        segs: list[Segment] = []
        if day == trip.depart_day:
            last = trip.depart_minute - 150
            if last - emp.start_min > 30:
                segs.append(Segment(emp.index, emp.tz, ordinal, emp.start_min, last, OFFICE,
                                    base * (last - emp.start_min) / emp.shift_minutes, True,
                                    emp.lunch_min, 0.1))
            arrive = emp.local_us(ordinal, trip.depart_minute) + trip.out_flight_us
            a_ord, a_min = utc_local_minutes(arrive + 90 * MINUTE_US, dest.tz)
            if a_min < 21 * 60:
                segs.append(Segment(emp.index, dest.tz, a_ord, a_min,
                                    min(a_min + float(rng.uniform(40, 150)), 22 * 60),
                                    trip.location, base * 0.12, False, math.nan, 0.5))
        else:
            last = trip.return_minute - 150
            if last - emp.start_min > 30:
                segs.append(Segment(emp.index, dest.tz, ordinal, emp.start_min, last,
                                    trip.location,
                                    base * (last - emp.start_min) / emp.shift_minutes, True,
                                    emp.lunch_min, 0.2))
            t, _ = local_to_utc_array(dest.tz, ordinal, np.array([trip.return_minute]))
            arrive = int(t[0]) + trip.back_flight_us
            h_ord, h_min = utc_local_minutes(arrive + 90 * MINUTE_US, emp.tz)
            if h_min < 21 * 60 and h_ord == ordinal:
                segs.append(Segment(emp.index, emp.tz, h_ord, h_min,
                                    min(h_min + float(rng.uniform(20, 90)), 22 * 60),
                                    HOME, base * 0.08, False, math.nan, 0.6))
        return segs

    # -- data-out -------------------------------------------------------------------------

    def _data_out(self, emp: Employee, day: int, seg: Segment, seg_no: int,
                  rng: np.random.Generator) -> list[tuple[int, float, int, int]]:
        """The day's exports, downloads, prints and bulk jobs: (segment, minute, action, extra)."""
        role = emp.role
        span = max(1.0, seg.m1 - seg.m0)
        share = min(1.5, span / max(60.0, emp.shift_minutes))
        closing = day in self.period.sales_close and role.name in TERRITORY_BOUND
        vigour = emp.activity ** 0.5 * share
        lam = np.array([role.exports_per_day * (1.8 if closing else 1.0), role.downloads_per_day,
                        role.prints_per_day, role.bulk_per_day]) * vigour
        n_exp, n_dl, n_pr, n_bulk = rng.poisson(lam).tolist()
        weekday = self.period.weekdays[day]
        weekly = role.name == "marketing" and weekday == emp.weekly_export_day
        large = role.name == "analyst" and (day in emp.large_export_days or rng.random() < 0.1)
        close = role.name == "finance" and day in self.period.finance_close
        if not (n_exp or n_dl or n_pr or n_bulk or weekly or large or close):
            return []
        out: list[tuple[int, float, int, int]] = []
        lo, hi = seg.m0 + min(10.0, span / 4), seg.m1 - min(5.0, span / 8)

        def put(action: int, content: dict[str, object], minute: float | None = None) -> None:
            at = lo + (hi - lo) * rng.random() if minute is None else minute
            out.append((seg_no, at, action, self.extras.add(Extra(content))))

        customers = self.customers
        for _ in range(n_exp):
            rows = int(min(2500, max(1, rng.lognormal(math.log(max(emp.export_median, 1)), 0.8))))
            put(EXPORT, data_out(emp, day, "export", rows, rng, customers))
        for _ in range(n_dl):
            rows = 1 if rng.random() < 0.8 else int(rng.integers(2, 6))
            put(ACTION_CODE["download"], data_out(emp, day, "download", rows, rng, customers))
        for _ in range(n_pr):
            rows = int(min(20, rng.geometric(0.25)))
            put(ACTION_CODE["print"], data_out(emp, day, "print", rows, rng, customers))
        for _ in range(n_bulk):
            rows = int(min(5000, max(60, rng.lognormal(math.log(800), 0.7))))
            put(BULK, data_out(emp, day, "bulk_api", rows, rng, customers))
        if weekly:
            rows = int(min(8000, max(1500, rng.lognormal(math.log(3500), 0.25))))
            minute = min(hi, max(lo, emp.weekly_export_minute + 20 * float(rng.standard_normal())))
            put(EXPORT, data_out(emp, day, "export", rows, rng, customers, obj="contact"), minute)
        if large:
            rows = int(min(15000, max(1000, rng.lognormal(math.log(4000), 0.7))))
            put(EXPORT, data_out(emp, day, "export", rows, rng, customers, obj="report"))
        if close:
            for _ in range(int(rng.integers(2, 5))):
                rows = int(min(9000, max(1500, rng.lognormal(math.log(4000), 0.5))))
                obj = "opportunity" if rng.random() < 0.5 else "report"
                put(EXPORT, data_out(emp, day, "export", rows, rng, customers, obj=obj))
        return out

    # -- everything else, for all segments at once ----------------------------------------

    def _materialise(self, day: int, segs: list[Segment],
                     planned: list[tuple[int, float, int, int]],
                     rng: np.random.Generator) -> np.ndarray:
        if not segs:
            return EMPTY
        s_emp = np.array([s.emp for s in segs], dtype=np.int32)
        m0 = np.array([s.m0 for s in segs])
        span = np.array([s.m1 for s in segs]) - m0
        lunch = np.array([s.lunch for s in segs])
        s_loc = np.array([s.loc for s in segs], dtype=np.int8)
        mobile_p = np.array([s.mobile_p for s in segs])
        off0 = np.array([utc_offset_minutes(s.tz, s.ordinal) for s in segs], dtype=np.int64)
        off1 = np.array([utc_offset_minutes(s.tz, s.ordinal + 1) for s in segs], dtype=np.int64)
        midnight = np.array([midnight_us(s.ordinal) for s in segs], dtype=np.int64)
        n = rng.poisson(np.maximum(0.0, [s.volume for s in segs]))

        seg_a = np.repeat(np.arange(len(segs)), n)
        minute_a = m0[seg_a] + rng.random(len(seg_a)) * span[seg_a]
        retry = (np.abs(minute_a - lunch[seg_a]) < 35.0) & (rng.random(len(seg_a)) > 0.3)
        retry |= rng.random(len(seg_a)) > np.clip((minute_a - m0[seg_a]) / 40.0, 0.35, 1.0)
        minute_a[retry] = m0[seg_a[retry]] + rng.random(int(retry.sum())) * span[seg_a[retry]]
        act_a = self._actions(day, s_emp[seg_a], rng)
        if planned:
            seg_p, minute_p, act_p, extra_p = (np.array(c) for c in zip(*planned, strict=True))
        else:
            seg_p, minute_p = np.zeros(0, dtype=np.int64), np.zeros(0)
            act_p, extra_p = np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64)
        seg_w = np.concatenate([seg_a, seg_p]).astype(np.int64)
        minute_w = np.concatenate([minute_a, minute_p])
        act_w = np.concatenate([act_a, act_p]).astype(np.int8)
        extra_w = np.concatenate([np.full(len(seg_a), -1), extra_p]).astype(np.int64)
        if not len(seg_w):
            return EMPTY
        order = np.lexsort((minute_w, seg_w))
        seg_w, minute_w, act_w, extra_w = seg_w[order], minute_w[order], act_w[order], extra_w[
            order]

        # sessions: a pause of more than half an hour ends one
        starts = np.ones(len(seg_w), dtype=bool)
        starts[1:] = (seg_w[1:] != seg_w[:-1]) | (np.diff(minute_w) > SESSION_GAP_MIN)
        sess_w = np.cumsum(starts) - 1
        first = np.flatnonzero(starts)
        last = np.append(first[1:] - 1, len(seg_w) - 1)
        g = len(first)
        sess_seg = seg_w[first]
        sess_emp = s_emp[sess_seg]
        new_emp = np.ones(g, dtype=bool)
        new_emp[1:] = sess_emp[1:] != sess_emp[:-1]
        sess_no = np.arange(g) - np.maximum.accumulate(np.where(new_emp, np.arange(g), 0))
        login_m = minute_w[first] - rng.uniform(0.1, 1.2, size=g)
        out = rng.random(g) < 0.55
        logout_m = minute_w[last[out]] + rng.uniform(0.1, 1.5, size=int(out.sum()))

        seg_r = np.concatenate([sess_seg, seg_w, sess_seg[out]])
        minute_r = np.concatenate([login_m, minute_w, logout_m])
        act_r = np.concatenate([np.full(g, LOGIN, np.int8), act_w,
                                np.full(int(out.sum()), LOGOUT, np.int8)])
        extra_r = np.concatenate([np.full(g, -1), extra_w, np.full(int(out.sum()), -1)])
        sess_r = np.concatenate([np.arange(g), sess_w, np.flatnonzero(out)])
        total = len(seg_r)
        rows = blank(total)
        emp_r = s_emp[seg_r]
        rows["emp"] = emp_r
        rows["act"] = act_r
        rows["extra"] = extra_r
        off = np.where(minute_r >= 1440.0, off1[seg_r], off0[seg_r])
        t = midnight[seg_r] + np.round(minute_r * MINUTE_US).astype(np.int64) - off * MINUTE_US
        rows["off"] = off

        # device, channel and place per session
        primary = np.where((self.new_dev_day[sess_emp] >= 0) & (day >= self.new_dev_day[sess_emp]),
                           self.last_dev[sess_emp], 0).astype(np.int8)
        r = rng.random(g)
        mob, sec = self.mobile_dev[sess_emp], self.second_dev[sess_emp]
        dev_s = np.where((mob >= 0) & (r < mobile_p[sess_seg]), mob,
                         np.where((sec >= 0) & (r < 0.15), sec, primary)).astype(np.int8)
        chan_s = self.dev_chan[sess_emp, dev_s]
        loc_s = s_loc[sess_seg].copy()
        loc_s[(loc_s == HOME) & (chan_s == MOBILE)] = CARRIER
        rows["sess"] = day * 64 + sess_no[sess_r]
        rows["dev"] = dev_s[sess_r]
        chan = chan_s[sess_r]
        bulk = act_r == BULK
        chan[bulk] = API
        rows["chan"] = chan
        rows["loc"] = loc_s[sess_r]

        style = self.style[emp_r].copy()
        style[chan == MOBILE] = MOBILE_STYLE
        style[bulk] = API_STYLE
        fmt = np.zeros(total, dtype=np.int8)
        u = rng.random(total)
        for k in np.unique(style).tolist():
            mask = style == k
            fmt[mask] = np.searchsorted(np.cumsum(FORMAT_STYLES[k])[:-1], u[mask], side="right")
        rows["fmt"] = fmt
        rows["t"] = t - t % PRECISION_US[fmt]

        plain = extra_r < 0
        touch = ONE_ROW[act_r] & plain
        touch |= (act_r == SHARE) & plain & (rng.random(total) < 0.4)
        if touch.any():
            rows["cust"][touch] = self._pick(day, emp_r[touch], rng)
        self._objects(rows, act_r, emp_r, plain, rng)
        self._counts(rows, act_r, emp_r, plain, rng)
        rows["flags"] = omissions(total, rng)
        return rows

    def _actions(self, day: int, emp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        acts = np.zeros(len(emp), dtype=np.int8)
        roles = self.role[emp]
        u = rng.random(len(emp))
        closing = day in self.period.sales_close
        for k in np.unique(roles).tolist():
            role = ROLES[k]
            names = [a for a, _ in role.mix]
            p = np.array([w for _, w in role.mix])
            if closing and role.name in TERRITORY_BOUND:
                p = p * np.array([2.0 if a == "report_run" else 1.0 for a in names])
            codes = np.array([ACTION_CODE[a] for a in names], dtype=np.int8)
            mask = roles == k
            pick = np.searchsorted(np.cumsum(p / p.sum())[:-1], u[mask], side="right")
            acts[mask] = codes[pick]
        return acts

    def _pick(self, day: int, emp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Mostly the person's own book, then their territories, rarely anyone else's."""
        k = len(emp)
        book_off, book_len = self.book_off[emp], self.book_len[emp]
        pool = self.pool_of[emp]
        handover = np.zeros(k, dtype=bool)
        for i, (when, off, length) in self.new_book_at.items():
            if day >= when:
                mine = emp == i
                book_off = np.where(mine, off, book_off)
                book_len = np.where(mine, length, book_len)
                pool = np.where(mine, self.new_pool[i], pool)
                if day < when + 6:
                    handover |= mine & (rng.random(k) < 0.15)
        u = rng.random(k)
        p_book = np.where(book_len > 0, self.p_book[emp], 0.0)
        from_book = u < p_book
        from_own = ~from_book & (u < 1.0 - self.other[emp])
        rank = np.floor(book_len * rng.random(k) ** 2.2).astype(np.int64)
        slot = np.floor(self.pool_len[pool] * rng.random(k)).astype(np.int64)
        out = rng.integers(0, self.customers.size, size=k).astype(np.int32)
        if len(self.books):
            out = np.where(from_book, self.books[np.minimum(book_off + rank,
                                                            len(self.books) - 1)], out)
        out = np.where(from_own, self.pools[self.pool_off[pool] + slot], out)
        if handover.any():
            old = self.book_off[emp[handover]] + np.floor(
                self.book_len[emp[handover]] * rng.random(int(handover.sum()))).astype(np.int64)
            out[handover] = self.books[old]
        return out.astype(np.int32)

    def _objects(self, rows: np.ndarray, acts: np.ndarray, emp: np.ndarray, plain: np.ndarray,
                 rng: np.random.Generator) -> None:
        obj = rows["obj"]
        record_like = plain & RECORD_LIKE[acts]
        support = self.support[emp]
        for mask, choices, p in ((record_like & ~support, _SALES_OBJECTS, _SALES_OBJECT_P),
                                 (record_like & support, _SUPPORT_OBJECTS, _SUPPORT_OBJECT_P)):
            k = int(mask.sum())
            if k:
                obj[mask] = choices[np.searchsorted(np.cumsum(p)[:-1], rng.random(k),
                                                    side="right")]
        obj[plain & (acts == REPORT)] = OBJECT_CODE["report"]
        shares = plain & (acts == SHARE)
        if shares.any():
            obj[shares] = np.where(rng.random(int(shares.sum())) < 0.7, OBJECT_CODE["report"],
                                   OBJECT_CODE["file"])

    def _counts(self, rows: np.ndarray, acts: np.ndarray, emp: np.ndarray, plain: np.ndarray,
                rng: np.random.Generator) -> None:
        cnt = rows["cnt"]
        u = rng.random(len(acts))
        cnt[plain & ONE_ROW[acts] & (u < 0.55)] = 1
        search = plain & (acts == SEARCH) & (u < 0.7)
        if search.any():
            cnt[search] = rng.integers(0, 41, size=int(search.sum()))
        report = plain & (acts == REPORT)
        if report.any():
            median = self.report_median[emp[report]]
            cnt[report] = np.clip(np.exp(np.log(median) + rng.standard_normal(len(median))),
                                  0, 200_000).astype(np.int32)

    # -- machines ----------------------------------------------------------------------

    def _service(self, emp: Employee, day: int, rng: np.random.Generator) -> np.ndarray:
        """An integration user syncing around the clock: hourly deltas, one nightly full sync."""
        if not emp.employed_on(day):
            return EMPTY
        quiet = self.period.weekdays[day] >= 5
        hours = np.arange(24)
        sync_m = hours * 60 + 5 + rng.uniform(0, 3, size=24)
        write_m = hours * 60 + 20 + rng.uniform(0, 6, size=24)
        busy = (hours >= 6) & (hours < 19) & (not quiet)
        sync_rows = np.clip(rng.lognormal(np.log(np.where(busy, 140, 40)), 0.6), 1, 2000)
        full_m = 2 * 60 + 10 + rng.uniform(0, 4)
        minutes = np.concatenate([sync_m, write_m, [full_m]])
        acts = np.concatenate([np.full(24, BULK), np.full(24, UPDATE), [BULK]]).astype(np.int8)
        rows = blank(len(minutes))
        t, off = local_to_utc_array(emp.tz, self.period.ordinals[day], minutes)
        u = rng.random(len(minutes))
        fmt = np.searchsorted(np.cumsum(emp.fmt_p)[:-1], u, side="right")
        rows["t"] = t - t % PRECISION_US[fmt]
        rows["off"] = off
        rows["fmt"] = fmt
        rows["emp"] = emp.index
        rows["act"] = acts
        rows["loc"] = OFFICE
        rows["dev"] = 0
        rows["chan"] = emp.devices[0].channel
        rows["flags"] = NO_SESSION | CITY_GEO
        rows["cnt"][24:48] = rng.integers(1, 120, size=24)
        rows["obj"][24:48] = OBJECT_CODE["account"]
        for i, n_rows in enumerate(sync_rows.tolist()):
            rows["extra"][i] = self.extras.add(Extra(
                data_out(emp, day, "bulk_api", int(n_rows), rng, self.customers)))
        full = int(np.clip(rng.lognormal(np.log(6000), 0.3), 2500, 15000))
        rows["extra"][48] = self.extras.add(Extra(
            data_out(emp, day, "bulk_api", full, rng, self.customers, obj="account")))
        return rows[np.argsort(rows["t"], kind="stable")]
