"""An employee's pace of data-out actions over a sliding ten minutes, and the
largest burst learned as usual (a fading peak).

A chunked burst (a few dozen exports of about a hundred rows, a minute or two
apart) stays under every per-action and hourly volume band; what gives it away
is the pace: more separate data-out actions in ten minutes than a person
choosing, running and saving exports by hand does.  One-minute buckets keep the
window in 80 bytes whatever the traffic; the whole is about 180 bytes of a
checkpoint.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

PACE_BUCKET_SECONDS = 60
PACE_BUCKETS = 10
# Seconds for a learned peak to fade to 1/e of its height.
PACE_MEMORY = 30 * 86400.0
LN2 = math.log(2)
# Days with data out averaged before the daily count's anchor moves slowly, and
# the most it moves a day (log units: 3%): a month-end's three busy days move it
# by a tenth, a count rising for weeks outruns it.
DAY_ANCHOR_WARMUP = 10
DAY_ANCHOR_STEP = 0.03


class Pace:
    """Data-out actions and their rows per minute over the last ten minutes.

    A burst is learned when it ends (the window empties), at most a quarter
    above the peak before it, and never when one of its actions raised an
    alert: a burst that grows chunk by chunk cannot teach itself.
    """

    __slots__ = (
        "anchor",
        "anchor_n",
        "burst",
        "flagged",
        "last",
        "peak",
        "peak_at",
        "ring",
        "rise",
        "rise_days",
    )

    def __init__(self) -> None:
        # Actions per minute, then rows per minute (float32: exact to 16 million).
        self.ring = array("f", bytes(8 * PACE_BUCKETS))
        self.last = -1  # the minute last written
        self.burst = 0.0  # the largest count of the burst under way
        self.flagged = False  # an action of the burst under way raised an alert
        self.peak = 0.0  # the learned burst's height, and when it was learned
        self.peak_at = 0.0
        # Data-out actions per finished day with data out: a slow anchor of their
        # log, and a one-sided sum of the days above it, in doublings.
        self.anchor = 0.0
        self.anchor_n = 0
        self.rise = 0.0
        self.rise_days = 0

    def count(self, ts: float, rows: int, floor: float) -> tuple[float, float]:
        """Add one data-out action; the actions and rows of the last ten minutes.

        ``floor``: the burst that counts whatever was learned; a burst teaches at
        most a quarter more than it or the peak.
        """
        k = int(ts // PACE_BUCKET_SECONDS)
        if k > self.last:
            if k - self.last >= PACE_BUCKETS:
                self._end_burst(ts, floor)
            ring = self.ring
            for j in range(max(self.last + 1, k - PACE_BUCKETS + 1), k + 1):
                ring[j % PACE_BUCKETS] = ring[PACE_BUCKETS + j % PACE_BUCKETS] = 0.0
            self.last = k
        elif self.last - k >= PACE_BUCKETS:
            return 1.0, float(rows)  # older than the window: counted on its own
        ring = self.ring
        ring[k % PACE_BUCKETS] += 1.0
        ring[PACE_BUCKETS + k % PACE_BUCKETS] += rows
        n = float(sum(ring[:PACE_BUCKETS]))
        self.burst = max(self.burst, n)
        return n, float(sum(ring[PACE_BUCKETS:]))

    def _end_burst(self, ts: float, floor: float) -> None:
        if not self.flagged and self.burst:
            limit = 1.25 * max(self.usual(ts), floor)
            value = min(self.burst, limit)
            if value > self.usual(ts):
                self.peak, self.peak_at = value, ts
        self.burst = 0.0
        self.flagged = False

    def flag(self) -> None:
        """An action of the burst under way raised an alert: the burst is not learned."""
        self.flagged = True

    def usual(self, ts: float) -> float:
        """The largest burst learned, faded to ``ts``."""
        if not self.peak:
            return 0.0
        return self.peak * math.exp(-max(0.0, ts - self.peak_at) / PACE_MEMORY)

    # -- the daily count of data-out actions, over weeks ------------------------------

    def day_step(self, actions: float, allowance: float) -> float:
        """A day's step of the rise: its count against the anchor in doublings, capped
        both ways so one busy day cannot fill the sum nor one quiet day empty it."""
        if self.anchor_n < DAY_ANCHOR_WARMUP:
            return 0.0
        z = (math.log1p(actions) - self.anchor) / LN2
        return min(max(z, -1.0), 2.0) - allowance

    def close_day(self, actions: int, allowance: float) -> None:
        """A finished day with data out (and no alert): the rise, then the anchor."""
        step = self.day_step(actions, allowance)
        self.rise = max(0.0, self.rise + step)
        self.rise_days = 0 if self.rise == 0 else self.rise_days + (step > 0)
        x = math.log1p(actions)
        if self.anchor_n < DAY_ANCHOR_WARMUP:
            self.anchor += (x - self.anchor) / (self.anchor_n + 1)
        else:
            self.anchor += min(max(x - self.anchor, -DAY_ANCHOR_STEP), DAY_ANCHOR_STEP)
        self.anchor_n += 1

    def reset_rise(self) -> None:
        """The rise was reported: it counts afresh."""
        self.rise, self.rise_days = 0.0, 0

    # Pickled as a tuple in slot order: names would be most of its size.
    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for k, v in zip(self.__slots__, state, strict=True):
            setattr(self, k, v)
