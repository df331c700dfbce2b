"""Rows out per working day before notice, and the sum since notice began.

A departing employee who ramps up exports moves, day after day, more than
their own days before notice did, at sizes that no single export or day shows
as extreme.  What gives it away is the sum: over the notice window it runs far
above what the same number of the employee's ordinary working days would move,
counted in the spread of such a sum.  The days before notice teach that
spread (zero-row days included: a seller who exports on a third of their days
is judged by that); the notice window never teaches it.

>>> w = NoticeWindow()
>>> for day, rows in enumerate([100, 0, 300, 50, 0, 200, 150, 0]):
...     w.touch(day, notice=False)
...     w.add(rows)
>>> w.touch(8, notice=True)
>>> w.add(900)
>>> observed, expected, sd, days = w.sums()
>>> observed, round(expected), days
(900.0, 100, 1)
"""

from __future__ import annotations

import math
from typing import Any

# Days averaged plainly before the mean and variance fade with this weight: about
# six weeks of working days.
ALPHA = 1.0 / 30.0


class NoticeWindow:
    """One employee's rows out per active day before notice, and since notice.

    A day counts when it had any event (rows out or not); it is learned when the
    next active day begins, unless an alert was raised on it (``flag``).
    """

    __slots__ = ("counted", "day", "flagged", "mean", "n", "rows", "start", "var", "w_days",
                 "w_rows")

    def __init__(self) -> None:
        self.day = -1  # the local day (days since the epoch) of the open day
        self.rows = 0  # rows out on the open day so far
        self.flagged = False  # an alert was raised on the open day
        self.counted = True  # the open day counts (a month-end close does not)
        self.n = 0  # ordinary days learned
        self.mean = 0.0
        self.var = 0.0
        self.start = -1  # the local day the notice window began (-1: none)
        self.w_rows = 0  # rows out on the window's finished days
        self.w_days = 0  # the window's finished active days

    def touch(self, day: int, notice: bool, counted: bool = True) -> None:
        """An event on local ``day``; ``notice``: the employee is under notice now;
        ``counted``: the day is an ordinary one (a month-end close, when a team's
        exports swell together, is neither learned nor summed).

        Closes the open day when ``day`` is later, then opens or ends the window.
        """
        if day > self.day:
            if self.day >= 0 and self.counted:
                self._close()
            self.day, self.rows, self.flagged, self.counted = day, 0, False, counted
        if notice and self.start < 0:
            self.start = self.day
        elif not notice and self.start >= 0:
            self.start, self.w_rows, self.w_days = -1, 0, 0

    def _close(self) -> None:
        if self.start >= 0:
            self.w_rows += self.rows
            self.w_days += 1
        elif not self.flagged:
            # EWStat(ALPHA, clip=math.inf)'s update, inline: as a nested object it
            # would add its class and three constants to every employee's checkpoint.
            n = self.n + 1
            a = max(1.0 / n, ALPHA)
            d = self.rows - self.mean
            self.mean += a * d
            self.var = (1.0 - a) * (self.var + a * d * d)
            self.n = n

    def add(self, rows: int) -> None:
        """Rows moved out by an action of the open day."""
        self.rows += rows

    def flag(self) -> None:
        """An alert was raised on the open day: it is not an ordinary day."""
        self.flagged = True

    def learned_days(self) -> int:
        return self.n

    def in_window(self) -> bool:
        """Under notice, on a day that counts."""
        return self.start >= 0 and self.counted

    def sums(self) -> tuple[float, float, float, int]:
        """Rows out in the window (today included), what as many ordinary days move
        on average, the spread of such a sum, and the window's active days."""
        days = self.w_days + 1
        return (float(self.w_rows + self.rows), self.mean * days, math.sqrt(self.var * days),
                days)

    # Pickled as a tuple in slot order (names would be most of its size); a baseline
    # keeps only the tuple (``from_state``), not this class's name.
    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for k, v in zip(self.__slots__, state, strict=True):
            setattr(self, k, v)

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> NoticeWindow:
        window = cls.__new__(cls)
        window.__setstate__(state)
        return window
