"""The employee directory: versioned HR records looked up by event time.

See ``shared/contract/employee.schema.json``.  A record applies from its
``updated_at`` on, so the directory keeps every version of an employee and
answers "who was this employee at time t".  That single rule gives replay its
interleaving by time and lets the streaming service apply records as they
arrive, even out of order or dated in the future.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, tzinfo

STATUSES = frozenset({"active", "notice", "leave", "terminated"})
# Accounts that must show no activity at all.
INACTIVE_STATUSES = frozenset({"leave", "terminated"})


@dataclass(slots=True)
class EmployeeRecord:
    """One validated directory record (one version of one employee)."""

    employee_id: str
    updated_at: float  # seconds since the epoch, UTC
    status: str
    peer_group: str  # peer_group, else role, else "unassigned"
    role: str | None = None
    department: str | None = None
    notice_date: date | None = None
    last_day: date | None = None
    # None: the directory says nothing about territories; all_territories: ["*"].
    territories: frozenset[str] | None = None
    all_territories: bool = False
    tz_name: str = "UTC"
    tz: tzinfo | None = None  # resolved zone; None means UTC
    # Working days as weekday numbers (0 = Monday); None when not given.
    working_days: frozenset[int] | None = None
    # Minutes after local midnight; end <= start means a shift past midnight.
    work_start: int | None = None
    work_end: int | None = None
    manager_id: str | None = None
    # Schema-valid but unusable values (unknown zone, "27:00") that were ignored.
    warnings: tuple[str, ...] = field(default=())
