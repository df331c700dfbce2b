"""Who plays which scenario, and the HR and calendar facts each case needs around it.

Every case takes a different employee; nothing starts before the warm-up day, so each
employee has history before anything notable happens to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from detector.simulator.config import BENIGN_KINDS, MALICIOUS_KINDS, SimConfig
from detector.simulator.customers import CustomerPool
from detector.simulator.geography import (
    MINUTE_US,
    NEIGHBOURS,
    REGIONS,
    TERRITORIES,
    City,
    city_distance_km,
    local_to_utc_us,
)
from detector.simulator.period import Period
from detector.simulator.roles import TERRITORY_BOUND
from detector.simulator.workforce import Employee, Trip, build_book

CRUISE_KMH = 820.0
MAX_DAILY_GROWTH = 1.15


@dataclass
class Case:
    kind: str
    emp: Employee
    malicious: bool
    day: int
    tag: int
    info: dict[str, Any] = field(default_factory=dict)
    window: tuple[int, int] | None = None
    description: str = ""


def workdays(emp: Employee, period: Period, lo: int, hi: int) -> list[int]:
    return [d for d in range(max(lo, 0), min(hi, period.days - 1) + 1)
            if period.weekdays[d] in emp.days]


def _human(emp: Employee) -> bool:
    return emp.role.name != "integration" and not emp.night


def _seller(emp: Employee) -> bool:
    return emp.role.name in TERRITORY_BOUND and not emp.night


_ELIGIBLE: dict[str, Callable[[Employee], bool]] = {
    "off_hours_bulk_export": _seller,
    "out_of_territory_export": lambda e: e.role.name in ("sales_rep", "account_manager"),
    "departing_employee": _seller,
    "chunked_export": lambda e: _seller(e) or (e.role.name == "support_agent" and not e.night),
    "terminated_account_use": _human,
    "view_harvesting": lambda e: e.role.name in ("sales_rep", "account_manager")
    or (e.role.name == "support_agent" and not e.night),
    "impossible_travel": _human,
    "slow_escalation": _seller,
    "night_shift": lambda e: e.night,
    "marketing_bulk_export": lambda e: e.role.name == "marketing",
    "analyst_large_export": lambda e: e.role.name == "analyst",
    "month_end_finance": lambda e: e.role.name == "finance",
    "new_hire": lambda e: e.role.name in ("sales_rep", "account_manager", "marketing")
    or (e.role.name == "support_agent" and not e.night),
    "territory_reassignment": lambda e: e.role.name in ("sales_rep", "account_manager"),
    "business_travel": _seller,
    "normal_leaver": _human,
    "repeated_lookups": lambda e: e.role.name in ("sales_rep", "account_manager", "sales_manager")
    or (e.role.name == "support_agent" and not e.night),
    "mass_delete": _human,
    "support_case": lambda e: e.role.name == "support_agent" and not e.night,
    "month_end_dedupe": lambda e: e.role.name in ("sales_manager", "sales_ops") and not e.night,
}
# Kinds added later are cast last, so that adding them leaves who plays the
# older ones unchanged.
_LATER = ("repeated_lookups", "mass_delete", "support_case", "month_end_dedupe")
_ORDER: tuple[str, ...] = (
    "night_shift", "marketing_bulk_export", "analyst_large_export", "month_end_finance",
    *(k for k in MALICIOUS_KINDS if k not in _LATER), "new_hire", "territory_reassignment",
    "business_travel", "normal_leaver", *_LATER,
)
assert set(_ORDER) == set(MALICIOUS_KINDS) | set(BENIGN_KINDS)


class Casting:
    def __init__(self, config: SimConfig, period: Period, staff: list[Employee],
                 customers: CustomerPool, rng: np.random.Generator) -> None:
        self.config = config
        self.period = period
        self.staff = staff
        self.customers = customers
        self.rng = rng
        self.warm = config.warmup_day
        self.last = period.days - 1
        self.cases: list[Case] = []
        self.notes: list[str] = []
        self._why: dict[str, str] = {}

    def run(self) -> list[Case]:
        if self.warm > self.last:
            self.notes.append(
                f"no scenarios: the warm-up lasts until day {self.warm} and the period has "
                f"{self.period.days} days")
            return self.cases
        for kind in _ORDER:
            wanted = self.config.count_for(kind)
            if wanted <= 0:
                continue
            pool = [e for e in self.staff if e.case is None and _ELIGIBLE[kind](e)]
            order = self.rng.permutation(len(pool)).tolist()
            made = 0
            for i in order:
                if made >= wanted:
                    break
                emp = pool[i]
                case = Case(kind, emp, kind in MALICIOUS_KINDS, -1, len(self.cases))
                if getattr(self, "_" + kind)(case):
                    emp.case = kind
                    emp.steady = True
                    self.cases.append(case)
                    made += 1
            if made < wanted:
                why = self._why.get(kind, "not enough eligible employees or room in the period")
                self._remark(kind, f"{kind}: planted {made} of {wanted}: {why}")
        if not any(self.config.count_for(kind) for kind in _ORDER):
            self.notes.append("no scenarios: with fewer than 40 employees the default counts "
                              "round to zero; set scenario counts to plant some")
        return self.cases

    # -- helpers -----------------------------------------------------------------------

    def _remark(self, topic: str, text: str) -> None:
        """One note per topic, however many cases ran into it."""
        if not any(n.startswith(topic) for n in self.notes):
            self.notes.append(text)

    def _pick(self, days: list[int]) -> int | None:
        return int(self.rng.choice(days)) if days else None

    def _at(self, emp: Employee, day: int, minute: float) -> int:
        return local_to_utc_us(emp.tz, self.period.ordinals[day], minute)

    def _shift(self, emp: Employee, day: int) -> tuple[int, int]:
        end = emp.start_min + emp.shift_minutes
        return self._at(emp, day, emp.start_min), self._at(emp, day, end)

    def _end_us(self, emp: Employee) -> int:
        return self._at(emp, self.last, 1440) - 1

    def _leaving(self, emp: Employee, notice_day: int, last_day: int) -> None:
        weekday0 = self.period.weekdays[0]
        while (weekday0 + last_day) % 7 not in emp.days:
            last_day -= 1
        emp.notice_day = notice_day
        emp.last_day = last_day
        ordinal = self.period.ordinals[0] + notice_day
        emp.notice_us = local_to_utc_us(emp.tz, ordinal, float(self.rng.uniform(9.5, 16.5)) * 60)
        if last_day <= self.last:
            emp.terminated_us = self._at(emp, last_day, float(self.rng.uniform(19, 21)) * 60)

    @staticmethod
    def _stay(emp: Employee) -> None:
        emp.notice_day = emp.last_day = emp.notice_us = emp.terminated_us = None

    # -- malicious: only the calendar here, events come from scenarios.py ----------------

    def _off_hours_bulk_export(self, case: Case) -> bool:
        day = self._pick(list(range(self.warm, self.last + 1)))
        case.day = day if day is not None else -1
        return day is not None

    def _out_of_territory_export(self, case: Case) -> bool:
        day = self._pick(workdays(case.emp, self.period, self.warm, self.last))
        case.day = day if day is not None else -1
        return day is not None

    def _chunked_export(self, case: Case) -> bool:
        return self._out_of_territory_export(case)

    def _view_harvesting(self, case: Case) -> bool:
        return self._out_of_territory_export(case)

    def _impossible_travel(self, case: Case) -> bool:
        return self._out_of_territory_export(case)

    def _repeated_lookups(self, case: Case) -> bool:
        return self._out_of_territory_export(case)

    def _mass_delete(self, case: Case) -> bool:
        return self._out_of_territory_export(case)

    # -- benign plays with events of their own (breadth_plays.py) ----------------------

    def _support_case(self, case: Case) -> bool:
        if not self._out_of_territory_export(case):
            return False
        case.window = self._shift(case.emp, case.day)
        case.description = "support case: one customer looked at several times over two hours"
        return True

    def _month_end_dedupe(self, case: Case) -> bool:
        emp = case.emp
        close = [d for d in self.period.finance_close
                 if self.warm <= d <= self.last and self.period.weekdays[d] in emp.days]
        day = self._pick(close or workdays(emp, self.period, self.warm, self.last))
        if day is None:
            return False
        case.day = day
        case.window = self._shift(emp, day)
        case.description = "month-end dedupe: a few dozen duplicate accounts deleted"
        return True

    def _departing_employee(self, case: Case) -> bool:
        emp = case.emp
        latest = self.last - 4
        first = max(1, self.warm - 3)
        if latest < first:
            return False
        notice = int(self.rng.integers(first, latest + 1))
        self._leaving(emp, notice, notice + int(self.rng.integers(10, 26)))
        assert emp.last_day is not None
        ramp = workdays(emp, self.period, max(notice + 1, self.warm), emp.last_day - 1)
        if len(ramp) < 3:
            self._stay(emp)
            return False
        case.day = ramp[0]
        case.info["ramp"] = ramp
        return True

    def _terminated_account_use(self, case: Case) -> bool:
        emp = case.emp
        lo = max(self.warm, 2)
        if lo > self.last:
            return False
        use = int(self.rng.integers(lo, self.last + 1))
        last_day = use - int(self.rng.integers(1, 5))
        last_day = max(last_day, 1)
        if last_day >= use:
            return False
        self._leaving(emp, last_day - int(self.rng.integers(10, 21)), last_day)
        assert emp.last_day is not None
        if emp.last_day < 1 or emp.terminated_us is None:
            self._stay(emp)
            return False
        case.day = use
        later = use + 1 + int(self.rng.integers(0, 3))
        case.info["days"] = [use] + ([later] if later <= self.last and self.rng.random() < 0.35
                                     else [])
        return True

    def _slow_escalation(self, case: Case) -> bool:
        emp = case.emp
        start = self.warm + int(self.rng.integers(0, 3))
        days = workdays(emp, self.period, start, self.last)
        if len(days) < 4:
            self._why["slow_escalation"] = (f"{len(days)} working days after the warm-up are "
                                            "too few to escalate over")
            return False
        target = float(self.rng.uniform(10, 20))
        rate = target ** (1.0 / len(days))
        if rate > MAX_DAILY_GROWTH:
            rate = MAX_DAILY_GROWTH
            self._remark("slow_escalation", (
                f"slow_escalation shortened: {len(days)} working days after the warm-up reach "
                f"about {rate ** len(days):.0f}x at {rate - 1:.0%} growth per working day, "
                "not the 10-20x of a longer period"))
        case.day = days[0]
        case.info.update(days=days, rate=rate)
        return True

    # -- benign ------------------------------------------------------------------------

    def _night_shift(self, case: Case) -> bool:
        emp = case.emp
        days = workdays(emp, self.period, self.warm, self.last)
        if not days:
            return False
        case.day = days[0]
        case.window = (self._at(emp, days[0], emp.start_min), self._end_us(emp))
        case.description = (f"night-shift support agent working {emp.start_min // 60:02d}:00-"
                            f"{emp.end_min // 60:02d}:00 local, as the directory says")
        return True

    def _marketing_bulk_export(self, case: Case) -> bool:
        emp = case.emp
        day = self._pick(workdays(emp, self.period, self.warm, self.last))
        if day is None:
            return False
        emp.weekly_export_day = self.period.weekdays[day]
        case.day = day
        case.window = self._shift(emp, day)
        case.description = ("weekly campaign-list export of a few thousand contacts across all "
                            "territories, on the same weekday every week")
        return True

    def _analyst_large_export(self, case: Case) -> bool:
        emp = case.emp
        day = self._pick(workdays(emp, self.period, self.warm, self.last))
        if day is None:
            return False
        emp.large_export_days = frozenset({day})
        case.day = day
        case.window = self._shift(emp, day)
        case.description = "analyst exports a report of thousands of rows, as analysts do"
        return True

    def _month_end_finance(self, case: Case) -> bool:
        emp = case.emp
        close = sorted(d for d in self.period.finance_close
                       if self.warm <= d <= self.last and self.period.weekdays[d] in emp.days)
        if not close:
            self._why["month_end_finance"] = "no month end falls after the warm-up"
            return False
        group = [close[0]]
        for d in close[1:]:
            if d - group[-1] > 4:
                break
            group.append(d)
        case.day = group[0]
        case.window = (self._shift(emp, group[0])[0], self._shift(emp, group[-1])[1])
        case.description = ("month-end close: several exports of thousands of opportunity rows "
                            "in the last business days / first business day of the month")
        return True

    def _new_hire(self, case: Case) -> bool:
        emp = case.emp
        day = self._pick(workdays(emp, self.period, self.warm, self.last - 2))
        if day is None:
            return False
        emp.hire_day = day
        emp.hire_us = self._at(emp, day, float(self.rng.uniform(6.5, 8.0)) * 60)
        case.day = day
        case.window = (emp.hire_us, self._end_us(emp))
        case.description = "new hire: directory record on the first day, no history before it"
        return True

    def _territory_reassignment(self, case: Case) -> bool:
        emp = case.emp
        day = self._pick(workdays(emp, self.period, self.warm, self.last - 3))
        if day is None:
            return False
        home = emp.territories[0]
        region = TERRITORIES[home].region
        options = [t for t in REGIONS[region] if t not in emp.territories] or [
            t for t in NEIGHBOURS[home]]
        if not options:
            return False
        new = int(self.rng.choice(options))
        emp.new_territories = (new,) if len(emp.territories) == 1 else tuple(
            sorted({new, *emp.territories[1:]}))
        emp.new_book = build_book(self.customers, emp.new_territories,
                                  int(self.rng.integers(60, 200)), self.rng)
        emp.reassign_day = day
        emp.reassign_us = self._at(emp, day, float(self.rng.uniform(6.0, 7.5)) * 60)
        case.day = day
        case.window = (emp.reassign_us, self._end_us(emp))
        names = ", ".join(TERRITORIES[t].code for t in emp.new_territories)
        case.description = f"territory reassignment to {names}; works the new accounts from then on"
        return True

    def _business_travel(self, case: Case) -> bool:
        emp = case.emp
        days = workdays(emp, self.period, self.warm, self.last - 2)
        if not days:
            return False
        depart = int(self.rng.choice(days))
        back = [d for d in workdays(emp, self.period, depart + 2, depart + 5)]
        if not back:
            return False
        ret = int(self.rng.choice(back))
        home_region = TERRITORIES[emp.territories[0]].region
        places: list[City] = [c for t in TERRITORIES for c in t.cities
                              if t.region != home_region and city_distance_km(c, emp.office) > 1500]
        dest = places[int(self.rng.integers(len(places)))]
        dist = city_distance_km(emp.office, dest)
        flight_us = int((dist / CRUISE_KMH + 0.6) * 60 * MINUTE_US)
        dep_min = float(self.rng.uniform(7.0, 11.0)) * 60
        ret_min = float(self.rng.uniform(14.0, 18.0)) * 60
        dep_us = self._at(emp, depart, dep_min)
        ret_us = local_to_utc_us(dest.tz, self.period.ordinals[ret], ret_min)
        trip = Trip(depart, ret, dest, 3, dep_min, ret_min, flight_us, flight_us,
                    (dep_us - 150 * MINUTE_US, dep_us + flight_us + 90 * MINUTE_US),
                    (ret_us - 150 * MINUTE_US, ret_us + flight_us + 90 * MINUTE_US))
        emp.trips.append(trip)
        case.day = depart
        case.window = (dep_us, ret_us + flight_us)
        case.description = (
            f"business trip {emp.office.name} -> {dest.name} ({dist:,.0f} km, "
            f"{flight_us / 3.6e9:.1f} h flight) and back {ret - depart} days later; "
            "normal work from the destination")
        return True

    def _normal_leaver(self, case: Case) -> bool:
        emp = case.emp
        latest = self.last - 2
        if latest < self.warm:
            return False
        notice = int(self.rng.integers(self.warm, latest + 1))
        self._leaving(emp, notice, notice + int(self.rng.integers(10, 21)))
        assert emp.notice_us is not None and emp.last_day is not None
        case.day = notice
        end = emp.terminated_us if emp.terminated_us is not None else self._end_us(emp)
        case.window = (emp.notice_us, end)
        last = self.period.start + timedelta(days=emp.last_day)
        case.description = (f"resigned, last day {last.isoformat()}; works normally through the "
                            "notice period")
        return True
