"""An employee's viewing: distinct customers this hour and over a sliding ten
minutes, counted as hashes (no customer id is kept), and the finished hours
that teach what is usual."""

from __future__ import annotations

import math

from models.stats import DistinctCounter, EWStat, PacedCounter, stable_hash


class ViewHistory:
    """The viewing rules of ``EmployeeBaseline`` (which holds the state)."""

    __slots__ = ()

    viewed: DistinctCounter
    viewed_10m: PacedCounter
    views: EWStat
    views_10m: EWStat

    def count_views(
        self, ts: float, customer_ids: tuple[str, ...], record_count: int, pace_seconds: int,
        pace_floor: float,
    ) -> tuple[float, float, tuple[float, float | None] | None]:
        """Count one view event.

        Returns the distinct customers viewed this hour, over the last
        ``pace_seconds`` (0 when it cannot reach ``pace_floor``: the estimate
        barely exceeds the bits set while it is small, so most views are ruled
        out without computing it), and the finished hour to teach the peer
        group (see :meth:`close_view_hour`), if this view closed one.
        """
        viewed, paced = self.viewed, self.viewed_10m
        tenth = int(ts // pace_seconds)
        if tenth != paced.period:
            paced.roll(tenth)
        hour = int(ts // 3600)
        finished = None
        if hour != viewed.period:
            finished = self.close_view_hour(hour)
        if customer_ids:
            for cid in customer_ids:
                h = stable_hash(cid)
                viewed.update(h)
                paced.update(h)
            distinct = viewed.get()
        else:
            viewed.total += record_count
            paced.total += record_count
            distinct = max(viewed.get(), float(viewed.total))
        pace = 0.0
        if paced.ones + paced.previous + 1 >= pace_floor or not paced.ones:
            pace = paced.pace((ts % pace_seconds) / pace_seconds)
        return distinct, pace, finished

    def flag_view_hour(self) -> None:
        """An alerted view: its hour of views is not learned."""
        self.viewed.flagged = True

    def close_view_hour(self, hour: int) -> tuple[float, float | None] | None:
        """Start the hour of views ``hour``, learning the finished one unless flagged.

        Returns what the peer group learns from it: the log1p of its distinct
        customers and of its busiest ten minutes (None if it had none).
        """
        viewed = self.viewed
        peak = self.viewed_10m.take_peak()
        learned: tuple[float, float | None] | None = None
        if viewed.period >= 0 and viewed.total and not viewed.flagged:
            measure = math.log1p(viewed.measure())
            self.views.update(measure)
            peak_measure = None
            if peak:
                peak_measure = math.log1p(peak)
                self.views_10m.update(peak_measure)
            learned = (measure, peak_measure)
        viewed.reset(hour)
        return learned

