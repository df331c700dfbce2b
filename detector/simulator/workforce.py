"""The people: who works where, on which territories, when, and from which devices and networks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import numpy as np

from detector.simulator.customers import CustomerPool
from detector.simulator.geography import (
    DATACENTRES,
    HEADQUARTERS,
    NEIGHBOURS,
    REGIONS,
    TERRITORIES,
    City,
    datacentre_ip,
    local_to_utc_us,
    office_ip,
    public_ip,
)
from detector.simulator.roles import ROLES, Role

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS: tuple[str, ...] = ("web", "mobile", "api", "integration")
WEB, MOBILE, API, INTEGRATION = range(4)
OFFICE, HOME, CARRIER = range(3)

# Timestamp wire formats: (uses local offset, fractional digits).
FORMATS: tuple[tuple[bool, int], ...] = (
    (False, 0), (False, 3), (True, 0), (True, 3), (False, 6), (True, 6))
PRECISION_US = np.array([10 ** (6 - digits) for _, digits in FORMATS], dtype=np.int64)
# How a client prints its clock: rows are styles, columns the FORMATS above.
FORMAT_STYLES = np.array([
    [0.85, 0.15, 0.0, 0.0, 0.0, 0.0],
    [0.55, 0.40, 0.0, 0.0, 0.05, 0.0],
    [0.10, 0.05, 0.65, 0.20, 0.0, 0.0],
    [0.35, 0.15, 0.30, 0.15, 0.03, 0.02],
    [0.1, 0.2, 0.1, 0.6, 0.0, 0.0],
    [0.0, 0.3, 0.0, 0.0, 0.7, 0.0],
])
MOBILE_STYLE, API_STYLE = 4, 5


@dataclass(frozen=True)
class Location:
    """Where an event comes from as the CRM sees it: an address and its geolocation."""

    ip: str
    city: City
    geo: dict[str, Any]
    geo_city: dict[str, Any]

    @staticmethod
    def at(ip: str, city: City) -> Location:
        geo, geo_city = _city_geo(city)
        return Location(ip, city, geo, geo_city)


@cache
def _city_geo(city: City) -> tuple[dict[str, Any], dict[str, Any]]:
    """Shared per city; events get copies."""
    return ({"country": city.country, "city": city.name, "lat": city.lat, "lon": city.lon},
            {"country": city.country, "city": city.name})


@dataclass(frozen=True)
class Device:
    device_id: str
    channel: int


@dataclass(frozen=True)
class Trip:
    """A business trip: out on ``depart_day``, back on ``return_day`` (both travel days)."""

    depart_day: int
    return_day: int
    destination: City
    location: int
    depart_minute: float
    return_minute: float
    out_flight_us: int
    back_flight_us: int
    out_window: tuple[int, int] = (0, 0)
    back_window: tuple[int, int] = (0, 0)


@dataclass(eq=False, slots=True)
class Employee:
    index: int
    role: Role
    territories: tuple[int, ...]
    all_territories: bool
    office: City
    home: City
    days: tuple[int, ...]
    start_min: int
    end_min: int
    night: bool
    activity: float
    export_median: float
    out_share: float
    wfh: float
    lunch_min: float
    fmt_style: int
    book: np.ndarray
    employee_id: str = ""
    number: int = 0
    peer_group: str | None = None
    manager_id: str | None = None
    devices: list[Device] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    joined: date | None = None
    prior: dict[str, Any] | None = None
    hire_day: int = 0
    hire_us: int | None = None
    notice_day: int | None = None
    notice_us: int | None = None
    last_day: int | None = None
    terminated_us: int | None = None
    leaves: list[tuple[int, int]] = field(default_factory=list)
    reassign_day: int | None = None
    reassign_us: int | None = None
    new_territories: tuple[int, ...] = ()
    new_book: np.ndarray | None = None
    trips: list[Trip] = field(default_factory=list)
    new_device_day: int | None = None
    weekly_export_day: int = 1
    weekly_export_minute: float = 600.0
    large_export_days: frozenset[int] = frozenset()
    steady: bool = False
    case: str | None = None

    @property
    def fmt_p(self) -> np.ndarray:
        style: np.ndarray = FORMAT_STYLES[self.fmt_style]
        return style

    @property
    def tz(self) -> str:
        return self.office.tz

    @property
    def shift_minutes(self) -> int:
        end = self.end_min if self.end_min > self.start_min else self.end_min + 1440
        return end - self.start_min

    def territories_on(self, day: int) -> tuple[int, ...]:
        if self.reassign_day is not None and day >= self.reassign_day:
            return self.new_territories
        return self.territories

    def book_on(self, day: int) -> np.ndarray:
        if self.reassign_day is not None and day >= self.reassign_day and self.new_book is not None:
            return self.new_book
        return self.book

    def employed_on(self, day: int) -> bool:
        if day < self.hire_day:
            return False
        if self.last_day is not None and day > self.last_day:
            return False
        return not any(a <= day <= b for a, b in self.leaves)

    def trip_on(self, day: int) -> Trip | None:
        for trip in self.trips:
            if trip.depart_day <= day <= trip.return_day:
                return trip
        return None

    def device_on(self, day: int, slot: int) -> int:
        """Index of the laptop (slot 0) or second device (slot 1) in use that day."""
        if slot == 0 and self.new_device_day is not None and day >= self.new_device_day:
            return len(self.devices) - 1
        return min(slot, self.ordinary_devices - 1)

    @property
    def ordinary_devices(self) -> int:
        return len(self.devices) - (1 if self.new_device_day is not None else 0)

    def local_us(self, ordinal: int, minutes: float) -> int:
        return local_to_utc_us(self.tz, ordinal, minutes)

    def territory_pool_key(self, day: int) -> tuple[int, ...]:
        return () if self.all_territories else self.territories_on(day)


def _counts(n: int, rng: np.random.Generator) -> list[int]:
    """Head count per role by largest remainder, keeping every job present in bigger worlds."""
    shares = np.array([r.share for r in ROLES])
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(int)
    rest = n - counts.sum()
    order = np.argsort(-(raw - counts) + rng.random(len(ROLES)) * 1e-6)
    counts[order[:rest]] += 1
    if n >= 40:
        for i in range(len(ROLES)):
            if counts[i] == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[i] += 1
    return [int(c) for c in counts]


def weighted(rng: np.random.Generator, weights: Sequence[float]) -> int:
    """Index drawn in proportion to ``weights``; a scalar draw far cheaper than ``choice``."""
    u = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        u -= w
        if u < 0:
            return i
    return len(weights) - 1


def _pick_city(territory: int, rng: np.random.Generator) -> City:
    cities = TERRITORIES[territory].cities
    return cities[weighted(rng, (3.0, 1.5, 1.0)[: len(cities)])]


def _working_hours(role: Role, rng: np.random.Generator, night: bool) -> tuple[tuple[int, ...], int,
                                                                              int]:
    weekdays = (0, 1, 2, 3, 4)
    if night:
        days = weekdays if rng.random() < 0.6 else (6, 0, 1, 2, 3)
        return days, 22 * 60, 6 * 60
    if role.name == "support_agent":
        start, length = [(7 * 60, 510), (8 * 60, 510), (9 * 60, 510), (12 * 60, 510)][
            weighted(rng, (0.25, 0.35, 0.25, 0.15))]
        days = weekdays if rng.random() < 0.8 else (1, 2, 3, 4, 5)
        return days, start, (start + length) % 1440
    if rng.random() < 0.05:
        return (0, 1, 2, 3), 9 * 60, 15 * 60
    start = [8 * 60, 8 * 60 + 30, 9 * 60, 7 * 60 + 30][weighted(rng, (0.3, 0.25, 0.35, 0.1))]
    end = start + [510, 540, 540, 570][int(rng.integers(4))]
    end = min(end, 18 * 60)
    end = max(end, 17 * 60)
    return weekdays, start, end


def _territories(role: Role, home: int, rng: np.random.Generator) -> tuple[int, ...]:
    if role.scope == "all":
        return ()
    region = REGIONS[TERRITORIES[home].region]
    if role.scope == "region":
        return region
    if role.scope == "manager":
        extra = [t for t in region if t != home]
        k = min(len(extra), int(rng.integers(1, 4)))
        chosen = rng.choice(extra, size=k, replace=False).tolist() if k else []
        return (home, *sorted(int(t) for t in chosen))
    if rng.random() < 0.3 and NEIGHBOURS[home]:
        return (home, NEIGHBOURS[home][int(rng.integers(len(NEIGHBOURS[home])))])
    return (home,)


def build_book(customers: CustomerPool, territories: tuple[int, ...], size: int,
               rng: np.random.Generator) -> np.ndarray:
    """The accounts someone works again and again, first ones most often."""
    pool = customers.pool(territories)
    size = min(size, len(pool))
    if size <= 0:
        return np.zeros(0, dtype=np.int32)
    drawn = pool[rng.integers(0, len(pool), size=size)]
    _, first = np.unique(drawn, return_index=True)
    return drawn[np.sort(first)].astype(np.int32)


def build_staff(n: int, customers: CustomerPool, rng: np.random.Generator) -> list[Employee]:
    counts = _counts(n, rng)
    hq = HEADQUARTERS[int(rng.integers(len(HEADQUARTERS)))]
    terr_w = [t.customer_share for t in TERRITORIES]
    regions, region_w = ("EU", "US", "APAC"), (0.4, 0.4, 0.2)
    staff: list[Employee] = []
    night_left = max(2, round(counts[3] * 0.2)) if counts[3] >= 5 else 0
    for role, count in zip(ROLES, counts, strict=True):
        for _ in range(count):
            index = len(staff)
            if role.scope == "region":
                region = REGIONS[regions[weighted(rng, region_w)]]
                home_t = region[int(rng.integers(len(region)))]
            elif role.scope == "all" and rng.random() < 0.5:
                home_t = next(i for i, t in enumerate(TERRITORIES) if hq in t.cities)
            else:
                home_t = weighted(rng, terr_w)
            office = hq if (role.scope == "all" and hq in TERRITORIES[home_t].cities
                            and rng.random() < 0.7) else _pick_city(home_t, rng)
            home = office if rng.random() < 0.85 else _pick_city(home_t, rng)
            if home.tz != office.tz:
                home = office
            night = False
            if role.name == "support_agent" and night_left > 0:
                night = True
                night_left -= 1
            if role.name == "integration":
                office = DATACENTRES[int(rng.integers(len(DATACENTRES)))]
                home = office
                days: tuple[int, ...] = tuple(range(7))
                start, end = 0, 23 * 60 + 59
            else:
                days, start, end = _working_hours(role, rng, night)
            territories = _territories(role, home_t, rng)
            median = role.export_median * float(rng.lognormal(0.0, 0.45))
            emp = Employee(
                index=index,
                role=role,
                territories=territories,
                all_territories=role.scope == "all",
                office=office,
                home=home,
                days=days,
                start_min=start,
                end_min=end,
                night=night,
                activity=float(rng.lognormal(0.0, 0.4)),
                export_median=median,
                out_share=float(rng.beta(1.2, 30.0)),
                wfh=min(0.9, max(0.0, role.wfh + 0.15 * float(rng.standard_normal()))),
                lunch_min=float(rng.uniform(11.75, 13.25) * 60),
                fmt_style=API_STYLE if role.name == "integration" else weighted(
                    rng, (0.45, 0.2, 0.2, 0.15)),
                book=build_book(customers, territories, int(rng.integers(60, 260)), rng)
                if role.book > 0 else np.zeros(0, dtype=np.int32),
            )
            emp.peer_group = None if rng.random() < 0.3 else role.name
            emp.weekly_export_day = int(rng.integers(0, 5))
            emp.weekly_export_minute = float(start + rng.uniform(60, 240))
            staff.append(emp)
    order = rng.permutation(len(staff))
    staff = [staff[i] for i in order]
    for i, emp in enumerate(staff):
        emp.index = i
    return staff


def assign_ids(staff: list[Employee], rng: np.random.Generator) -> None:
    """Employee numbers grow with hire date, so this period's new hires get the newest ones."""
    n = len(staff)
    digits = 5 if n <= 60_000 else 6
    low = 10 ** (digits - 1)
    numbers = np.sort(rng.choice(np.arange(low, 10 * low), size=n, replace=False))
    tie = rng.random(n).tolist()
    by_hire = sorted(staff, key=lambda e: (e.hire_day, tie[e.index]))
    for emp, number in zip(by_hire, numbers.tolist(), strict=True):
        emp.number = int(number)
        emp.employee_id = f"E{number}"


def equip(staff: list[Employee], rng: np.random.Generator) -> None:
    """Devices and network locations; needs the final employee numbers."""
    for emp in staff:
        if emp.role.name == "integration":
            middleware = API if rng.random() < 0.5 else INTEGRATION
            emp.devices = [Device(f"svc-{emp.number}", middleware)]
            ip = datacentre_ip(rng)
            emp.locations = [Location.at(ip, emp.office), Location.at(ip, emp.office),
                             Location.at(ip, emp.office)]
            continue
        first = Device(f"{'pc' if rng.random() < 0.2 else 'lt'}-{emp.number}", WEB)
        devices = [first]
        if rng.random() < emp.role.mobile:
            devices.append(Device(f"mb-{emp.number}", MOBILE))
        elif rng.random() < 0.15:
            devices.append(Device(f"lt-{emp.number}b", WEB))
        if emp.new_device_day is not None:
            devices.append(Device(f"lt-{emp.number}-{int(rng.integers(2, 9))}", WEB))
        emp.devices = devices
        emp.locations = [
            Location.at(office_ip(emp.office, rng), emp.office),
            Location.at(public_ip(emp.home.country, rng), emp.home),
            Location.at(public_ip(emp.home.country, rng), emp.home),
        ]


def assign_managers(staff: list[Employee], rng: np.random.Generator) -> None:
    """Reps report to a sales manager of their region, managers to one head of sales; other
    teams have a lead per ten people and a head over the leads."""
    groups: dict[tuple[str, str], list[Employee]] = {}
    for emp in staff:
        group = "sales" if emp.role.department == "Sales" else emp.role.name
        region = TERRITORIES[emp.territories[0]].region if emp.territories else "ALL"
        groups.setdefault((group, region), []).append(emp)
    managers = [e for e in staff if e.role.name == "sales_manager" and e.hire_day == 0]
    chief = managers[0] if managers else None
    for (group, _region), members in groups.items():
        if group == "sales":
            bosses = [e for e in members if e.role.name == "sales_manager" and e.hire_day == 0]
            bosses = bosses or ([chief] if chief else [])
            for emp in members:
                if emp.role.name == "sales_manager":
                    if chief is not None and emp is not chief:
                        emp.manager_id = chief.employee_id
                elif bosses:
                    emp.manager_id = bosses[int(rng.integers(len(bosses)))].employee_id
            continue
        established = [e for e in members if e.hire_day == 0] or members
        leads = established[:max(1, len(established) // 10)]
        head, lead_ids = leads[0], {id(e) for e in leads}
        for emp in members:
            if emp is head:
                continue
            boss = head if id(emp) in lead_ids else leads[int(rng.integers(len(leads)))]
            emp.manager_id = boss.employee_id


def working_hours_record(emp: Employee) -> dict[str, Any]:
    return {
        "days": [WEEKDAYS[d] for d in sorted(emp.days)],
        "start": f"{emp.start_min // 60:02d}:{emp.start_min % 60:02d}",
        "end": f"{emp.end_min // 60:02d}:{emp.end_min % 60:02d}",
    }

