"""RFC 3339 times as documents carry them: strict, cached parsing and formatting."""

from __future__ import annotations

import re
import time
from datetime import date

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_PREFIX_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2})")
_CACHE_LIMIT = 100_000
# "YYYY-MM-DDTHH" -> epoch seconds of that hour as if it were UTC; only valid ones.
_HOUR_BASE: dict[str, float] = {}
# ":MM:SS" -> seconds into the hour; second 60 is a leap second.
_MIN_SEC: dict[str, int] = {
    f":{m:02d}:{s:02d}": m * 60 + s for m in range(60) for s in range(61)
}
# "Z" or "+HH:MM" -> seconds east of UTC.
_OFFSETS: dict[str, int] = {"Z": 0, "z": 0}
for _h in range(24):
    for _m in range(60):
        _OFFSETS[f"+{_h:02d}:{_m:02d}"] = _h * 3600 + _m * 60
        _OFFSETS[f"-{_h:02d}:{_m:02d}"] = -(_h * 3600 + _m * 60)
del _h, _m
_DIGITS = "0123456789"


def _hour_base(prefix: str) -> float | None:
    m = _PREFIX_RE.fullmatch(prefix)
    if m is None:
        return None
    year, month, day, hour = (int(g) for g in m.groups())
    if hour > 23:
        return None
    try:
        days = date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    base = float(days * 86400 + hour * 3600)
    if len(_HOUR_BASE) >= _CACHE_LIMIT:
        _HOUR_BASE.clear()
    _HOUR_BASE[prefix] = base
    return base


def parse_timestamp(value: str) -> float | None:
    """RFC 3339 date-time with an offset -> epoch seconds, or None when it is not one.

    Strict where ``datetime.fromisoformat`` is lenient (it takes dates alone,
    missing offsets, ``+0800``), and accepts what it refuses (lowercase ``z``,
    leap second 60).  Years start at 0001, as in the reference validators.
    Cached per hour, so a stream of timestamps costs a few dict lookups each.
    """
    base = _HOUR_BASE.get(value[:13])
    if base is None:
        base = _hour_base(value[:13])
        if base is None:
            return None
    into = _MIN_SEC.get(value[13:19])
    if into is None:
        return None
    offset = _OFFSETS.get(value[19:])
    if offset is not None:
        return base + (into - offset)
    tail = value[19:]
    if tail[:1] != ".":
        return None
    rest = tail[1:].lstrip(_DIGITS)
    digits = len(tail) - 1 - len(rest)
    offset = _OFFSETS.get(rest)
    if digits == 0 or offset is None:
        return None
    return base + (into - offset) + float(tail[: digits + 1])


MAX_RFC3339 = 253402300799  # 9999-12-31T23:59:59Z


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. ``2026-11-21T02:14:07.000Z``."""
    whole = int(ts // 1)
    if whole > MAX_RFC3339:  # a freeze TTL past 9999-12-31 stays printable
        whole, ts = MAX_RFC3339, float(MAX_RFC3339)
    ms = round((ts - whole) * 1000)
    if ms == 1000:
        whole, ms = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"
