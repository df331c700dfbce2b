"""The insider scenarios as events: what each malicious case actually does in the CRM.

Intensities are drawn from ranges rather than fixed, and optional fields come and go as in
ordinary traffic, so that no single threshold or field tells a planted event apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.simulator.casting import Case
from detector.simulator.customers import CustomerPool
from detector.simulator.drafts import (
    ACTION_CODE,
    CITY_GEO,
    NO_CHANNEL,
    NO_DEVICE,
    NO_GEO,
    NO_SESSION,
    Extra,
    Extras,
    blank,
    omissions,
)
from detector.simulator.geography import (
    FOREIGN_PLACES,
    MINUTE_US,
    TERRITORIES,
    City,
    city_distance_km,
    local_to_utc_us,
    public_ip,
    utc_local_minutes,
    utc_offset_minutes,
)
from detector.simulator.payloads import LIST_LIMIT, counted, distinct_customers, listed
from detector.simulator.period import Period
from detector.simulator.workforce import FORMATS, HOME, OFFICE, PRECISION_US, WEB

_WHERE_FLAGS = NO_GEO | CITY_GEO | NO_SESSION | NO_DEVICE | NO_CHANNEL


@dataclass(frozen=True)
class Where:
    """The place and client an event comes from: the employee's own, or an override."""

    tz: str
    loc: int = OFFICE
    dev: int = 0
    chan: int = WEB
    sess: int = -1
    context: dict[str, Any] | None = None


class Stage:
    """Planted events by planning day, as draft rows whose payloads live in ``extras``."""

    def __init__(self, period: Period, customers: CustomerPool, extras: Extras) -> None:
        self.period = period
        self.customers = customers
        self.extras = extras
        self.by_day: dict[int, list[np.ndarray]] = {}


class Script:
    """One case's events, written in the employee's local time."""

    def __init__(self, stage: Stage, case: Case, rng: np.random.Generator) -> None:
        self.stage = stage
        self.case = case
        self.emp = case.emp
        self.rng = rng
        self.customers = stage.customers
        self.items: list[tuple[int, int, int, int, int, Where]] = []
        self.sessions = 40

    def at(self, day: int, minute: float) -> int:
        return local_to_utc_us(self.emp.tz, self.stage.period.ordinals[day], minute)

    def usual(self, day: int, loc: int | None = None) -> Where:
        """A fresh session on the employee's own laptop, at the office or at home."""
        if loc is None:
            loc = HOME if self.rng.random() < self.emp.wfh else OFFICE
        self.sessions += 1
        return Where(self.emp.tz, loc, self.emp.device_on(day, 0), WEB, day * 64 + self.sessions)

    def elsewhere(self, ip: str, city: City, device_id: str | None) -> Where:
        context: dict[str, Any] = {"source_ip": ip}
        if device_id is not None:
            context["device_id"] = device_id
        context["geo"] = {"country": city.country, "city": city.name, "lat": city.lat,
                          "lon": city.lon}
        context["session_id"] = f"s-{int(self.rng.integers(0, 1 << 40)):010x}"
        context["channel"] = "web"
        return Where(city.tz, context=context)

    def add(self, day: int, t: int, action: str, content: dict[str, Any] | None,
            where: Where, malicious: bool = True, exact: bool = False) -> int:
        """One event; unless ``exact``, optional fields come and go as in ordinary traffic."""
        tag = self.case.tag if malicious else -1
        context = where.context
        flags = 0
        if not exact:
            flags = int(omissions(1, self.rng)[0]) & _WHERE_FLAGS
            if context is not None and flags:
                context = _thinned(context, flags)
        key = self.stage.extras.add(Extra(content or {}, context, tag))
        self.items.append((day, t, ACTION_CODE[action], key, flags, where))
        return t

    def view(self, customer: int, obj: str = "account") -> dict[str, Any]:
        return {"object_type": obj, "record_count": 1,
                "customers": [self.customers.item(customer)]}

    def search(self) -> dict[str, Any]:
        return {"object_type": str(self.rng.choice(["account", "contact", "opportunity"])),
                "record_count": int(self.rng.integers(0, 60))}

    def finish(self) -> None:
        by_day: dict[int, list[tuple[int, int, int, int, int, Where]]] = {}
        for item in self.items:
            by_day.setdefault(item[0], []).append(item)
        for day, items in by_day.items():
            rows = blank(len(items))
            for i, (_, t, act, key, flags, where) in enumerate(items):
                fmt = int(self.rng.choice(len(FORMATS), p=self.emp.fmt_p))
                ordinal, _minute = utc_local_minutes(t, where.tz)
                rows["t"][i] = t - t % int(PRECISION_US[fmt])
                rows["fmt"][i] = fmt
                rows["off"][i] = utc_offset_minutes(where.tz, ordinal)
                rows["emp"][i] = self.emp.index
                rows["act"][i] = act
                rows["extra"][i] = key
                rows["loc"][i] = where.loc
                rows["dev"][i] = where.dev
                rows["chan"][i] = where.chan
                rows["sess"][i] = where.sess
                rows["flags"][i] = flags
            self.stage.by_day.setdefault(day, []).append(rows)

    # -- shared pieces -----------------------------------------------------------------

    def working_minute(self, lead: float = 45, tail: float = 60) -> float:
        end = self.emp.start_min + self.emp.shift_minutes
        return float(self.rng.uniform(self.emp.start_min + lead, max(self.emp.start_min + lead + 1,
                                                                      end - tail)))

    def big_export(self, day: int, rows: int, own_share: float, tier_bias: float,
                   obj: str | None = None) -> dict[str, Any]:
        obj = obj or str(self.rng.choice(["account", "contact", "report"], p=[0.45, 0.35, 0.2]))
        if rows <= LIST_LIMIT:
            picked = distinct_customers(self.emp, day, rows, self.rng, self.customers,
                                        1.0 - own_share)
            return listed(self.customers, picked, obj, self.rng, float(self.rng.uniform(300, 700)))
        return counted(self.customers, rows, obj, self.emp.territory_pool_key(day), own_share,
                       self.rng, tier_bias, None, float(self.rng.uniform(300, 700)))


def _thinned(context: dict[str, Any], flags: int) -> dict[str, Any]:
    """An override context with the fields ``flags`` leaves out removed or shortened."""
    out = dict(context)
    for bit, key in ((NO_DEVICE, "device_id"), (NO_SESSION, "session_id"),
                     (NO_CHANNEL, "channel"), (NO_GEO, "geo")):
        if flags & bit:
            out.pop(key, None)
    if flags & CITY_GEO and "geo" in out:
        out["geo"] = {"country": out["geo"]["country"], "city": out["geo"]["city"]}
    return out


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> int:
    return round(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _clock(minute: float) -> str:
    m = int(minute) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def _split(rng: np.random.Generator, total: int, parts: int, floor: int) -> list[int]:
    shares = rng.dirichlet(np.full(parts, 2.0))
    return [max(floor, round(total * s)) for s in shares]


# -- the scenarios ---------------------------------------------------------------------

def off_hours_bulk_export(s: Script) -> str:
    emp, day, rng = s.emp, s.case.day, s.rng
    last = s.stage.period.days - 1
    minute = float(rng.uniform(22.5 * 60, 28.5 * 60 if day < last else 23.6 * 60))
    if rng.random() < 0.6:
        where = s.usual(day, HOME)
        origin = "home network"
    else:
        device = emp.devices[0].device_id if rng.random() < 0.8 else (
            f"pc-{int(rng.integers(0, 1 << 24)):06x}")
        where = s.elsewhere(public_ip(emp.home.country, rng), emp.home, device)
        origin = "an address never used before"
    t = s.add(day, s.at(day, minute), "login", {}, where)
    for _ in range(int(rng.integers(1, 5))):
        t += int(rng.uniform(0.3, 4) * MINUTE_US)
        action = "search" if rng.random() < 0.7 else "report_run"
        content = s.search() if action == "search" else {
            "object_type": "report", "record_count": int(rng.integers(200, 5000))}
        s.add(day, t, action, content, where)
    total = _log_uniform(rng, 1500, 20000)
    parts = _split(rng, total, int(rng.integers(1, 4)), 200)
    own = float(rng.uniform(0.5, 1.0))
    bias = float(rng.uniform(1.5, 3.0))
    for rows in parts:
        t += int(rng.uniform(1, 6) * MINUTE_US)
        s.add(day, t, "export", s.big_export(day, rows, own, bias), where)
    if rng.random() < 0.5:
        s.add(day, t + int(rng.uniform(0.5, 3) * MINUTE_US), "logout", {}, where)
    return (f"{sum(parts):,} rows in {len(parts)} export(s) at {_clock(minute)} local time, "
            f"from {origin}")


def out_of_territory_export(s: Script) -> str:
    emp, day, rng, cust = s.emp, s.case.day, s.rng, s.customers
    minute = s.working_minute(60, 75)
    where = s.usual(day)
    own = set(emp.territories_on(day))
    foreign = [i for i in range(len(TERRITORIES)) if i not in own]
    targets = [int(i) for i in rng.choice(foreign, size=min(len(foreign), int(rng.integers(1, 3))),
                                          replace=False)]
    pool = cust.pool(targets)
    t = s.add(day, s.at(day, minute), "login", {}, where)
    for _ in range(int(rng.integers(2, 6))):
        t += int(rng.uniform(0.3, 3) * MINUTE_US)
        s.add(day, t, "search", s.search(), where)
        for c in pool[rng.integers(0, len(pool), size=int(rng.integers(1, 4)))].tolist():
            t += int(rng.uniform(0.2, 2) * MINUTE_US)
            s.add(day, t, "view", s.view(int(c)), where)
    total = _log_uniform(rng, 150, 2500)
    parts = _split(rng, total, int(rng.integers(1, 3)), LIST_LIMIT + 10)
    own_share = float(rng.uniform(0.05, 0.3))
    weights = np.full(len(TERRITORIES), 0.12 * (1 - own_share) / len(TERRITORIES))
    weights[sorted(own)] += own_share / len(own)
    weights[targets] += 0.88 * (1 - own_share) / len(targets)
    for rows in parts:
        t += int(rng.uniform(1, 8) * MINUTE_US)
        territories, tiers = cust.spread(rows, weights, rng, 1.3)
        s.add(day, t, "export", {"object_type": "account", "record_count": rows,
                                 "territories": territories, "tiers": tiers,
                                 "bytes": int(rows * rng.uniform(300, 700))}, where)
    names = ", ".join(TERRITORIES[i].code for i in sorted(own))
    aims = ", ".join(TERRITORIES[i].code for i in targets)
    return (f"{sum(parts):,} rows of {aims} customers exported at {_clock(minute)} local; "
            f"own territories ({names}) are about {own_share:.0%} of them")


def departing_employee(s: Script) -> str:
    emp, rng = s.emp, s.rng
    ramp: list[int] = s.case.info["ramp"]
    base = max(emp.export_median, 10.0) * float(rng.uniform(1.5, 2.5))
    growth = (8.0 * max(emp.export_median, 10.0) / base) ** (1.0 / max(1, len(ramp) - 2))
    volume = 0
    for i, day in enumerate(ramp[:-1]):
        for _ in range(int(rng.integers(1, 3))):
            rows = max(5, int(base * growth**i * rng.uniform(0.8, 1.2)))
            where = s.usual(day)
            t = s.at(day, s.working_minute(20, 30))
            s.add(day, t, "login", {}, where)
            s.add(day, t + int(rng.uniform(0.5, 5) * MINUTE_US), "export",
                  s.big_export(day, rows, 0.92, 1.2 + i / len(ramp)), where)
            volume += rows
    final = ramp[-1]
    where = s.usual(final)
    minute = s.working_minute(60, 30) if rng.random() < 0.7 else float(rng.uniform(18.5, 21) * 60)
    t = s.add(final, s.at(final, minute), "login", {}, where)
    for _ in range(int(rng.integers(2, 6))):
        t += int(rng.uniform(0.3, 3) * MINUTE_US)
        s.add(final, t, "search", s.search(), where)
    big = _log_uniform(rng, 2000, 15000)
    t += int(rng.uniform(1, 5) * MINUTE_US)
    s.add(final, t, "export", s.big_export(final, big, float(rng.uniform(0.8, 0.95)), 2.5,
                                           "account"), where)
    if rng.random() < 0.4:
        s.add(final, t + int(rng.uniform(1, 4) * MINUTE_US), "download",
              {"object_type": "file", "record_count": big, **_same_counts(s, big, final)}, where)
    return (f"after notice, exports ramp over {len(ramp) - 1} working days ({volume:,} rows) "
            f"to a {big:,}-row customer-list export before the last day")


def _same_counts(s: Script, rows: int, day: int) -> dict[str, Any]:
    territories, tiers = s.customers.breakdown(rows, s.emp.territory_pool_key(day), 0.9, s.rng,
                                               2.5)
    return {"territories": territories, "tiers": tiers}


def chunked_export(s: Script) -> str:
    emp, day, rng, cust = s.emp, s.case.day, s.rng, s.customers
    last = s.stage.period.days - 1
    m0 = s.working_minute(20, 150)
    k = int(rng.integers(15, 41))
    # Half page through the list in one sitting, a chunk every minute or two;
    # the others spread the chunks over the hours of one or more shifts.
    burst = rng.random() < 0.5
    if burst:
        minutes = m0 + np.cumsum(np.concatenate([[0.0], rng.uniform(0.6, 2.5, size=k - 1)]))
    else:
        m1 = m0 + float(rng.uniform(2, 22)) * 60
        if day == last:
            m1 = min(m1, 1439.0)
        minutes = np.sort(rng.uniform(m0, m1, size=k))
        minutes = np.maximum.accumulate(minutes + np.arange(k) * 0.5)
    typical = max(emp.export_median, 40.0)
    sizes = [int(typical * rng.uniform(0.7, 1.4)) for _ in range(k)]
    pool = cust.pool(emp.territory_pool_key(day))
    cursor = int(rng.integers(0, len(pool)))
    where = s.usual(day)
    shift_end = emp.start_min + emp.shift_minutes
    prev = -1e9
    for minute, rows in zip(minutes.tolist(), sizes, strict=True):
        if minute - prev > 35:
            where = s.usual(day, HOME if minute > shift_end else where.loc)
            s.add(day, s.at(day, minute - float(rng.uniform(0.2, 1.0))), "login", {}, where)
        prev = minute
        t = s.at(day, minute)
        if rng.random() < 0.5:
            s.add(day, t - int(rng.uniform(10, 60) * 1e6), "search", s.search(), where)
        idx = pool[(cursor + np.arange(rows)) % len(pool)]
        cursor += rows
        obj = "account"
        if rows <= LIST_LIMIT:
            content = listed(cust, idx, obj, rng, float(rng.uniform(300, 600)))
        else:
            territories, tiers = cust.tally(idx)
            content = {"object_type": obj, "record_count": rows, "territories": territories,
                       "tiers": tiers}
        s.add(day, t, "export", content, where)
    hours = (minutes[-1] - minutes[0]) / 60
    return (f"{k} exports of {min(sizes)}-{max(sizes)} rows each, {sum(sizes):,} rows in "
            f"{hours:.1f} h, paging through the territory list")


def terminated_account_use(s: Script) -> str:
    emp, rng = s.emp, s.rng
    new_device = rng.random() < 0.7
    device = (f"pc-{int(rng.integers(0, 1 << 24)):06x}" if new_device else
              emp.devices[0].device_id)
    abroad = rng.random() < 0.4
    place = emp.home
    if abroad:
        options = [c for c in FOREIGN_PLACES if c.country != emp.home.country]
        place = options[int(rng.integers(len(options)))]
    new_ip = abroad or rng.random() < 0.8
    ip = public_ip(place.country, rng) if new_ip else emp.locations[HOME].ip
    rows_out = 0
    for day in s.case.info["days"]:
        where = s.elsewhere(ip, place, device)
        minute = (float(rng.uniform(19, 25)) if rng.random() < 0.5 else
                  float(rng.uniform(9, 17))) * 60
        if day == s.stage.period.days - 1:
            minute = min(minute, 23 * 60)
        t = s.add(day, s.at(day, minute), "login", {}, where)
        for _ in range(int(rng.integers(2, 7))):
            t += int(rng.uniform(0.3, 3) * MINUTE_US)
            s.add(day, t, "search", s.search(), where)
        picks = distinct_customers(emp, max(0, emp.last_day or 0), int(rng.integers(5, 41)), rng,
                                   s.customers)
        for c in picks.tolist():
            t += int(rng.uniform(0.1, 1.5) * MINUTE_US)
            s.add(day, t, "view", s.view(int(c)), where)
        if rng.random() < 0.6:
            rows = _log_uniform(rng, 100, 5000)
            t += int(rng.uniform(1, 5) * MINUTE_US)
            s.add(day, t, "export", s.big_export(max(0, emp.last_day or 0), rows, 0.9, 1.5),
                  where)
            rows_out += rows
        if rng.random() < 0.3:
            s.add(day, t + int(rng.uniform(0.5, 3) * MINUTE_US), "logout", {}, where)
    parts = [("new device" if new_device else "old device"),
             ("new IP" if new_ip else "old home IP"),
             (f"from {place.name}, {place.country}" if abroad else "in the home country")]
    return (f"account used {len(s.case.info['days'])} day(s) after termination ({', '.join(parts)})"
            + (f", {rows_out:,} rows exported" if rows_out else ""))


def view_harvesting(s: Script) -> str:
    emp, day, rng, cust = s.emp, s.case.day, s.rng, s.customers
    m0 = s.working_minute(30, 150)
    duration = float(rng.uniform(60, 120))
    n = int(rng.integers(200, 901))
    own = cust.pool(emp.territory_pool_key(day))
    k_own = min(int(n * rng.uniform(0.5, 0.85)), int(0.8 * len(own)))
    picked_own = rng.choice(own, size=k_own, replace=False)
    others = np.setdiff1d(np.arange(cust.size, dtype=np.int32), own, assume_unique=False)
    if len(others) == 0:
        others = np.setdiff1d(np.arange(cust.size, dtype=np.int32), picked_own)
    picked_other = rng.choice(others, size=min(n - k_own, len(others)), replace=False)
    picked = np.concatenate([picked_own, picked_other])
    rng.shuffle(picked)
    minutes = np.sort(rng.uniform(m0, m0 + duration, size=len(picked)))
    where = s.usual(day)
    s.add(day, s.at(day, m0 - float(rng.uniform(0.2, 1.0))), "login", {}, where)
    next_search = int(rng.integers(10, 40))
    for i, (minute, c) in enumerate(zip(minutes.tolist(), picked.tolist(), strict=True)):
        t = s.at(day, minute)
        if i == next_search:
            s.add(day, t - int(rng.uniform(2, 8) * 1e6), "search", s.search(), where)
            next_search += int(rng.integers(15, 45))
        s.add(day, t, "view", s.view(int(c), str(rng.choice(["account", "contact"]))), where)
    return (f"{len(picked)} distinct customers viewed in {duration:.0f} minutes from "
            f"{_clock(m0)} local")


def impossible_travel(s: Script) -> str:
    emp, day, rng = s.emp, s.case.day, s.rng
    minute = s.working_minute(60, 150)
    base = emp.locations[OFFICE if rng.random() > emp.wfh else HOME]
    anchor = Where(emp.tz, context={
        "source_ip": base.ip, "device_id": emp.devices[emp.device_on(day, 0)].device_id,
        "geo": dict(base.geo), "session_id": f"s-{int(rng.integers(0, 1 << 40)):010x}",
        "channel": "web"})
    t0 = s.at(day, minute)
    book = emp.book_on(day)
    customer = int(book[0]) if len(book) else int(rng.integers(0, s.customers.size))
    s.add(day, t0, "view", s.view(customer), anchor, malicious=False, exact=True)
    gap = float(rng.uniform(20, 90))
    places = [c for c in FOREIGN_PLACES
              if city_distance_km(c, base.city) / (gap / 60) > 1500 and c.country !=
              base.city.country]
    if not places:
        gap = 20.0
        places = sorted(FOREIGN_PLACES, key=lambda c: -city_distance_km(c, base.city))[:3]
    far = places[int(rng.integers(len(places)))]
    device = (f"pc-{int(rng.integers(0, 1 << 24)):06x}" if rng.random() < 0.6 else
              emp.devices[0].device_id)
    where = s.elsewhere(public_ip(far.country, rng), far, device)
    t = s.add(day, t0 + int(gap * MINUTE_US), "login", {}, where, exact=True)
    for _ in range(int(rng.integers(1, 4))):
        t += int(rng.uniform(0.3, 3) * MINUTE_US)
        s.add(day, t, "search", s.search(), where)
    for c in distinct_customers(emp, day, int(rng.integers(2, 9)), rng, s.customers).tolist():
        t += int(rng.uniform(0.2, 2) * MINUTE_US)
        s.add(day, t, "view", s.view(int(c)), where)
    exported = ""
    if rng.random() < 0.5:
        rows = _log_uniform(rng, 80, 3000)
        t += int(rng.uniform(1, 6) * MINUTE_US)
        s.add(day, t, "export", s.big_export(day, rows, 0.85, 1.5), where)
        exported = f", then a {rows:,}-row export"
    if rng.random() < 0.4:
        s.add(day, t + int(rng.uniform(0.5, 3) * MINUTE_US), "logout", {}, where)
    km = city_distance_km(base.city, far)
    return (f"{base.city.name} then {far.name} {gap:.0f} min later ({km:,.0f} km, "
            f"{km / (gap / 60):,.0f} km/h){exported}")


def slow_escalation(s: Script) -> str:
    emp, rng = s.emp, s.rng
    days: list[int] = s.case.info["days"]
    rate: float = s.case.info["rate"]
    base = max(emp.export_median, 8.0) * float(rng.uniform(0.8, 1.2))
    final = 0
    for k, day in enumerate(days, start=1):
        volume = base * rate**k * float(rng.uniform(0.9, 1.1))
        parts = 1 if volume < 150 else (2 if volume < 800 else 3)
        for rows in _split(rng, int(volume), parts, 5):
            where = s.usual(day)
            s.add(day, s.at(day, s.working_minute(15, 20)), "export",
                  s.big_export(day, rows, 0.93, 1.0 + k / len(days)), where)
        final = int(volume)
    return (f"extra exports grow {rate - 1:.0%} per working day over {len(days)} working days, "
            f"from ~{base:.0f} to ~{final:,} rows a day ({final / base:.0f}x)")


PLAYS = {
    "off_hours_bulk_export": off_hours_bulk_export,
    "out_of_territory_export": out_of_territory_export,
    "departing_employee": departing_employee,
    "chunked_export": chunked_export,
    "terminated_account_use": terminated_account_use,
    "view_harvesting": view_harvesting,
    "impossible_travel": impossible_travel,
    "slow_escalation": slow_escalation,
}


def plant(cases: list[Case], stage: Stage, seed: int) -> None:
    """Write every malicious case's events into ``stage``, and those of the benign
    cases that have events of their own; the other benign cases need none."""
    from detector.simulator import breadth_plays as more

    plays = {**PLAYS, "repeated_lookups": more.repeated_lookups, "mass_delete": more.mass_delete,
             "support_case": more.support_case, "month_end_dedupe": more.month_end_dedupe}
    for case in cases:
        play = plays.get(case.kind)
        if play is None:
            continue
        script = Script(stage, case, np.random.default_rng([seed, 11, case.tag]))
        case.description = play(script)
        script.finish()
