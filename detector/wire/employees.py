"""Employee records as HR sends them: parsed and checked field by field.

See ``shared/contract/employee.schema.json``.  ``detector.directory`` keeps
every version of every employee and looks them up by event time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from detector.errors import InvalidRecord
from detector.wire.events import ID_MAX_LENGTH
from detector.wire.jsontext import load_object
from detector.wire.times import parse_timestamp

STATUSES = frozenset({"active", "notice", "leave", "terminated"})
# Accounts that must show no activity at all.
INACTIVE_STATUSES = frozenset({"leave", "terminated"})
STATUS_ORDER = ("active", "notice", "leave", "terminated")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_TERRITORIES = "*"

_DAY_NUMBER = {name: i for i, name in enumerate(DAYS)}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ABSENT: Any = object()
_UNKNOWN_ZONE: Any = object()
# Zone name -> resolved zone (None for UTC) or _UNKNOWN_ZONE; bounded because
# names arrive from outside.
_ZONES: dict[str, Any] = {"UTC": None, "Etc/UTC": None}
_ZONE_CACHE_LIMIT = 4096


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


# --------------------------------------------------------------------------
# parsing


def parse_date(value: str) -> date | None:
    """A JSON Schema ``date`` (RFC 3339 full-date, YYYY-MM-DD), or None when it is not one."""
    if _DATE_RE.fullmatch(value) is None:
        return None
    try:
        return date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return None


def resolve_zone(name: str) -> tuple[tzinfo | None, bool]:
    """(zone or None for UTC, whether the name is known); cached per name."""
    zone = _ZONES.get(name, _ABSENT)
    if zone is _ABSENT:
        try:
            zone = ZoneInfo(name)
        except (ValueError, OSError, KeyError):
            zone = _UNKNOWN_ZONE
        if len(_ZONES) >= _ZONE_CACHE_LIMIT:
            _ZONES.clear()
            _ZONES.update({"UTC": None, "Etc/UTC": None})
        _ZONES[name] = zone
    if zone is _UNKNOWN_ZONE:
        return None, False
    return zone, True


def _hhmm(value: str) -> int | None:
    """Minutes for a string matching the schema pattern ``^[0-2][0-9]:[0-5][0-9]$``, else None.

    The value may still be impossible (``27:00``); the caller decides.
    """
    if (
        len(value) == 5
        and value[2] == ":"
        and "0" <= value[0] <= "2"
        and "0" <= value[1] <= "9"
        and "0" <= value[3] <= "5"
        and "0" <= value[4] <= "9"
    ):
        return int(value[:2]) * 60 + int(value[3:])
    return None


def _string(d: dict[str, Any], name: str) -> str | None:
    value = d.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(name, "must be a string", "wrong_type")
    return value


def _required_string(d: dict[str, Any], name: str) -> str:
    value = d.get(name, _ABSENT)
    if value is _ABSENT:
        raise InvalidRecord(name, "missing required field", "missing_field")
    if not isinstance(value, str):
        raise InvalidRecord(name, "must be a string", "wrong_type")
    return value


def _date_field(d: dict[str, Any], name: str) -> date | None:
    value = _string(d, name)
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise InvalidRecord(name, "must be a date written YYYY-MM-DD", "bad_date")
    return parsed


def _working_hours(
    wh: Any, warnings: list[str]
) -> tuple[frozenset[int] | None, int | None, int | None]:
    if not isinstance(wh, dict):
        raise InvalidRecord("working_hours", "must be an object", "wrong_type")
    days: frozenset[int] | None = None
    raw_days = wh.get("days", _ABSENT)
    if raw_days is not _ABSENT:
        if not isinstance(raw_days, list):
            raise InvalidRecord("working_hours.days", "must be an array", "wrong_type")
        numbers = []
        for i, day in enumerate(raw_days):
            number = _DAY_NUMBER.get(day) if isinstance(day, str) else None
            if number is None:
                raise InvalidRecord(
                    f"working_hours.days[{i}]", "must be one of " + ", ".join(DAYS), "bad_enum"
                )
            numbers.append(number)
        days = frozenset(numbers)
    times: dict[str, int | None] = {}
    for part in ("start", "end"):
        value = wh.get(part, _ABSENT)
        if value is _ABSENT:
            times[part] = None
            continue
        name = "working_hours." + part
        if not isinstance(value, str):
            raise InvalidRecord(name, "must be a string", "wrong_type")
        minutes = _hhmm(value)
        if minutes is None:
            raise InvalidRecord(name, "must be a time written HH:MM", "bad_time")
        times[part] = minutes
    start, end = times["start"], times["end"]
    if start is None and end is None:
        return days, None, None
    if start is None or end is None:
        warnings.append("working_hours: start and end must be given together; hours ignored")
        return days, None, None
    # 24:00 is midnight at the end of the day; later times do not exist.
    if start >= 1440:
        warnings.append("working_hours.start: not a time of day; hours ignored")
        return days, None, None
    if end > 1440:
        warnings.append("working_hours.end: not a time of day; hours ignored")
        return days, None, None
    return days, start, end


def parse_employee(
    raw: bytes | bytearray | memoryview | str | dict[str, Any], *, max_bytes: int = 65536
) -> EmployeeRecord:
    """Validate one directory record against the contract and normalise it.

    Raises :class:`InvalidRecord` (and nothing else) naming the field at fault.
    Schema-valid values the detector cannot use (an unknown zone, ``27:00``)
    are not errors: they are dropped and noted in ``warnings``.
    """
    d = load_object(raw, max_bytes, check_depth=True)
    warnings: list[str] = []

    employee_id = _required_string(d, "employee_id")
    if not 0 < len(employee_id) <= ID_MAX_LENGTH:
        raise InvalidRecord("employee_id", "must be 1 to 128 characters long", "bad_length")
    updated_at = parse_timestamp(_required_string(d, "updated_at"))
    if updated_at is None:
        raise InvalidRecord(
            "updated_at",
            "must be an RFC 3339 date-time with an offset, like 2026-11-22T02:14:07Z",
            "bad_timestamp",
        )
    if "status" not in d:
        raise InvalidRecord("status", "missing required field", "missing_field")
    status = d["status"]
    if not (isinstance(status, str) and status in STATUSES):
        code = "bad_enum" if isinstance(status, str) else "wrong_type"
        raise InvalidRecord("status", "must be one of " + ", ".join(STATUS_ORDER), code)

    notice_date = _date_field(d, "notice_date")
    last_day = _date_field(d, "last_day")
    role = _string(d, "role")
    department = _string(d, "department")
    peer_group = _string(d, "peer_group")
    manager_id = _string(d, "manager_id")

    territories: frozenset[str] | None = None
    all_territories = False
    raw_terr = d.get("territories", _ABSENT)
    if raw_terr is not _ABSENT:
        if not isinstance(raw_terr, list):
            raise InvalidRecord("territories", "must be an array", "wrong_type")
        for i, item in enumerate(raw_terr):
            if not isinstance(item, str):
                raise InvalidRecord(f"territories[{i}]", "must be a string", "wrong_type")
        territories = frozenset(raw_terr)
        if ALL_TERRITORIES in territories:
            all_territories = True
            territories = territories - {ALL_TERRITORIES}

    tz_name = "UTC"
    tz: tzinfo | None = None
    zone_name = _string(d, "timezone")
    if zone_name is not None:
        tz, known = resolve_zone(zone_name)
        if known:
            tz_name = zone_name
        else:
            warnings.append("timezone: not a known IANA zone; UTC used")

    working_days = work_start = work_end = None
    wh = d.get("working_hours", _ABSENT)
    if wh is not _ABSENT:
        working_days, work_start, work_end = _working_hours(wh, warnings)

    return EmployeeRecord(
        employee_id=employee_id,
        updated_at=updated_at,
        status=status,
        peer_group=peer_group or role or "unassigned",
        role=role,
        department=department,
        notice_date=notice_date,
        last_day=last_day,
        territories=territories,
        all_territories=all_territories,
        tz_name=tz_name,
        tz=tz,
        working_days=working_days,
        work_start=work_start,
        work_end=work_end,
        manager_id=manager_id,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------
# time in the employee's zone
