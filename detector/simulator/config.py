"""What a simulated world is made of: size, period, seed and how many scenarios to plant."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

MALICIOUS_KINDS: tuple[str, ...] = (
    "off_hours_bulk_export",
    "out_of_territory_export",
    "departing_employee",
    "chunked_export",
    "terminated_account_use",
    "view_harvesting",
    "impossible_travel",
    "slow_escalation",
    "repeated_lookups",
    "mass_delete",
)
BENIGN_KINDS: tuple[str, ...] = (
    "night_shift",
    "marketing_bulk_export",
    "analyst_large_export",
    "month_end_finance",
    "new_hire",
    "territory_reassignment",
    "business_travel",
    "normal_leaver",
    "support_case",
    "month_end_dedupe",
)
ALL_KINDS: tuple[str, ...] = MALICIOUS_KINDS + BENIGN_KINDS


@dataclass(frozen=True)
class SimConfig:
    """One reproducible world: the same config always yields the same bytes.

    ``scenario_rate`` and ``benign_rate`` are cases of each kind per 100 employees
    (at least one of each from 40 employees on); ``scenario_counts`` pins the count
    of any kind exactly. ``activity`` scales everyone's event volume.
    """

    employees: int = 200
    days: int = 28
    seed: int = 0
    start: date = date(2026, 10, 5)
    scenario_rate: float = 1.0
    benign_rate: float = 1.0
    scenario_counts: Mapping[str, int] | None = field(default=None)
    warmup_fraction: float = 0.4
    malformed_rate: float = 0.0
    activity: float = 1.0

    def __post_init__(self) -> None:
        if self.employees < 1:
            raise ValueError("employees must be at least 1")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0.0 <= self.malformed_rate < 1.0:
            raise ValueError("malformed_rate must be in [0, 1)")
        if self.scenario_rate < 0 or self.benign_rate < 0 or self.activity <= 0:
            raise ValueError("rates must be non-negative and activity positive")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError("warmup_fraction must be in [0, 1)")
        for kind, count in (self.scenario_counts or {}).items():
            if kind not in ALL_KINDS:
                raise ValueError(f"unknown scenario kind {kind!r}")
            if count < 0:
                raise ValueError(f"negative count for {kind!r}")

    @property
    def warmup_day(self) -> int:
        """First day index a scenario may start on: history must exist before anything odd."""
        return max(3, math.ceil(self.warmup_fraction * self.days))

    def count_for(self, kind: str) -> int:
        if self.scenario_counts is not None and kind in self.scenario_counts:
            return int(self.scenario_counts[kind])
        rate = self.scenario_rate if kind in MALICIOUS_KINDS else self.benign_rate
        count = round(self.employees / 100.0 * rate)
        if self.employees >= 40 and rate > 0:
            count = max(1, count)
        return count
