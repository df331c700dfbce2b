"""Features of one event in the context of who the employee is.

Everything here is a pure function of the event and the directory record:
local time, working hours, territory and tier shares, travel distance.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

from detector.wire.employees import EmployeeRecord
from detector.wire.events import Event

EARTH_RADIUS_KM = 6371.0088
_OFFSETS: dict[tuple[int, int], int] = {}


def utc_offset(tz: tzinfo | None, ts: float) -> int:
    """Seconds east of UTC for ``tz`` at ``ts``, cached per zone and UTC hour."""
    if tz is None:
        return 0
    key = (id(tz), int(ts // 3600))
    off = _OFFSETS.get(key)
    if off is None:
        if len(_OFFSETS) > 200_000:
            _OFFSETS.clear()
        try:
            delta = datetime.fromtimestamp(ts, tz).utcoffset()
        except (OverflowError, OSError, ValueError):
            delta = None  # a schema-valid year 1 or 9999 instant: no zone rules there
        off = int(delta.total_seconds()) if delta is not None else 0
        _OFFSETS[key] = off
    return off


def local_clock(tz: tzinfo | None, ts: float) -> tuple[int, int, int]:
    """(absolute local hour, hour of week with Monday 00:00 = 0, minute of day)."""
    local = ts + utc_offset(tz, ts)
    abs_hour = int(local // 3600)
    days = abs_hour // 24
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    hour = abs_hour % 24
    minute = int(local // 60) % 1440
    return abs_hour, weekday * 24 + hour, minute


def in_working_hours(rec: EmployeeRecord, how: int, minute: int, margin: int) -> bool | None:
    """Whether a local time falls in the directory's working hours (None: not said).

    A shift that ends at or before it starts runs past midnight and belongs to
    the day it started.  ``margin`` minutes either side count as working time.
    """
    days = rec.working_days
    start, end = rec.work_start, rec.work_end
    if days is None and (start is None or end is None):
        return None
    weekday = how // 24
    if start is None or end is None:
        return weekday in days if days is not None else None
    on = days if days is not None else range(7)
    if start < end:
        return weekday in on and start - margin <= minute < end + margin
    if weekday in on and minute >= start - margin:
        return True
    return (weekday - 1) % 7 in on and minute < end + margin


def minutes_outside(rec: EmployeeRecord, how: int, minute: int) -> int | None:
    """Minutes from a local time to the nearest working window (0 inside one)."""
    start, end = rec.work_start, rec.work_end
    if start is None or end is None:
        return None
    days = rec.working_days if rec.working_days is not None else range(7)
    week = 7 * 1440
    t = (how // 24) * 1440 + minute
    best: int | None = None
    for d in days:
        lo = d * 1440 + start
        hi = d * 1440 + end + (1440 if end <= start else 0)
        for shift in (-week, 0, week):
            a, b = lo + shift, hi + shift
            gap = 0 if a <= t < b else min(abs(t - a), abs(t - b))
            if best is None or gap < best:
                best = gap
    return best


def outside_share(
    counts: dict[str, int] | None, own: frozenset[str] | list[str] | None
) -> tuple[float, list[str]] | None:
    """Share of rows in territories not in ``own``, and the top outside territories."""
    if not counts or own is None:
        return None
    total = 0
    outside = 0
    out_terr: list[tuple[int, str]] = []
    for t, c in counts.items():
        total += c
        if t not in own:
            outside += c
            out_terr.append((c, t))
    if total <= 0:
        return None
    out_terr.sort(reverse=True)
    return outside / total, [t for _, t in out_terr[:3]]


def high_tier_share(ev: Event) -> float:
    tiers = ev.tiers
    if not tiers:
        return 0.0
    total = sum(tiers.values())
    return tiers.get("high", 0) / total if total > 0 else 0.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
