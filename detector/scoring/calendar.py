"""Local dates and days for signals: month-ends, dates and working hours in words."""

from __future__ import annotations

import time
from datetime import date, timedelta

from detector.features import fmt_minute
from detector.wire.employees import EmployeeRecord

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_MONTH_END: dict[int, bool] = {}


def _month_end(d: date) -> bool:
    if d.weekday() >= 5:
        return False
    nxt = d + timedelta(days=1)
    later = 0  # business days left in the month after d
    while nxt.month == d.month:
        later += nxt.weekday() < 5
        nxt += timedelta(days=1)
    prev = d - timedelta(days=1)
    earlier = 0
    while prev.month == d.month:
        earlier += prev.weekday() < 5
        prev -= timedelta(days=1)
    return later <= 1 or earlier == 0


def is_month_end(local_day: int) -> bool:
    """Last two business days of a month or its first: when finance and sales close.

    ``local_day`` counts local days since 1970-01-01:

    >>> day = lambda y, m, d: (date(y, m, d) - date(1970, 1, 1)).days
    >>> is_month_end(day(2026, 9, 30)), is_month_end(day(2026, 9, 29))
    (True, True)
    >>> is_month_end(day(2026, 10, 1)), is_month_end(day(2026, 9, 15))
    (True, False)
    >>> is_month_end(day(2026, 10, 31))  # a Saturday
    False
    """
    got = _MONTH_END.get(local_day)
    if got is None:
        try:
            got = _month_end(date(1970, 1, 1) + timedelta(days=local_day))
        except OverflowError:  # a schema-valid instant in year 1 or late 9999
            got = False
        if len(_MONTH_END) > 100_000:
            _MONTH_END.clear()
        _MONTH_END[local_day] = got
    return got


def date_of(ts: float) -> str:
    """The UTC date of an instant, for a reason's text."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def local_date(abs_hour: int) -> str:
    """The local date of an hour counted in local time since the epoch."""
    return time.strftime("%Y-%m-%d", time.gmtime(abs_hour * 3600))


def hours_text(rec: EmployeeRecord) -> str:
    """The directory's working hours in words, e.g. `` (mon–fri 09:00–17:00 Europe/Berlin)``."""
    if rec.work_start is None or rec.work_end is None:
        return ""
    days = ""
    if rec.working_days is not None:
        names = [DAY_NAMES[d] for d in sorted(rec.working_days)]
        days = f"{names[0]}–{names[-1]} " if len(names) > 1 else f"{names[0]} "
    return f" ({days}{fmt_minute(rec.work_start)}–{fmt_minute(rec.work_end)} {rec.tz_name})"
