"""The simulated stretch of calendar: weekdays and the month-end rush that drives reporting."""

from __future__ import annotations

from datetime import date, timedelta


def _business_days_of_month(year: int, month: int) -> list[date]:
    day = date(year, month, 1)
    out = []
    while day.month == month:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


class Period:
    """Day ``d`` of the simulation is ``start + d``, a local calendar date for everyone."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        self.dates = [start + timedelta(days=d) for d in range(days)]
        self.ordinals = [x.toordinal() for x in self.dates]
        self.weekdays = [x.weekday() for x in self.dates]
        self.finance_close: set[int] = set()
        self.sales_close: set[int] = set()
        months = {(x.year, x.month) for x in self.dates}
        months |= {((x - timedelta(days=10)).year, (x - timedelta(days=10)).month)
                   for x in self.dates}
        index = {x: d for d, x in enumerate(self.dates)}
        for year, month in months:
            bdays = _business_days_of_month(year, month)
            for x in bdays[-2:] + bdays[:1]:
                if x in index:
                    self.finance_close.add(index[x])
            for x in bdays[-3:]:
                if x in index:
                    self.sales_close.add(index[x])
