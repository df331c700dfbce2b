"""What employee, peer-group and global baselines share: the volume quantities,
learned per action and per finished period in ``log1p`` space, and the hour
profile.  ``models.baseline`` builds the three kinds on it."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, NamedTuple

from river import base

from models.stats import EWStat, HourProfile

# Quantities whose recent peak widens the usual range.
PEAK_KEYS = ("rows", "rows_1h", "rows_24h")

VOLUME_KEYS = (
    "rows", "rows_1h", "rows_24h", "actions_24h", "distinct_viewed_1h", "distinct_viewed_10m"
)


class ClosedPeriods(NamedTuple):
    """The local hour and day a data-out event closed, with what they moved.

    A total is None when there is nothing to learn from it (nothing moved out,
    or an alert was raised in it).
    """

    day: int  # the local day that was current until this event
    hour_total: float | None
    day_total: float | None
    day_actions: int | None


def _volume_stats(alpha: float) -> tuple[EWStat, EWStat, EWStat, EWStat]:
    return (EWStat(alpha), EWStat(alpha), EWStat(alpha), EWStat(alpha))


class VolumeBaseline(base.AnomalyDetector):
    """Shared learning and scoring of the four volume quantities.

    ``rows`` is learned per data-out action; ``rows_1h`` and ``rows_24h`` per
    completed local hour and day with any data out; ``distinct_viewed_1h`` and
    ``distinct_viewed_10m`` per completed hour and ten minutes with views.
    Learning finished periods (rather than the running sum at each action) is
    what lets chunked exports add up: a running sum learned chunk by chunk
    would teach itself the ramp.
    """

    __slots__ = (
        "actions_24h", "first_ts", "hours", "rows", "rows_1h", "rows_24h", "views", "views_10m"
    )

    k: float = 2.5

    def __init__(self, alpha: float) -> None:
        self.rows, self.rows_1h, self.rows_24h, self.views = _volume_stats(alpha)
        # Data-out actions per active day: chunking shows as many small exports.
        self.actions_24h = EWStat(alpha)
        # Distinct customers viewed per ten minutes: the pace of browsing, which
        # shows a harvest long before the hour's total does.
        self.views_10m = EWStat(alpha)
        self.hours = HourProfile()
        self.first_ts = math.nan

    def stat(self, key: str) -> EWStat:
        if key == "rows":
            return self.rows
        if key == "rows_24h":
            return self.rows_24h
        if key == "rows_1h":
            return self.rows_1h
        if key == "actions_24h":
            return self.actions_24h
        if key == "distinct_viewed_10m":
            return self.views_10m
        return self.views

    def hour_profile(self) -> HourProfile:
        """Active hours per hour of the week (read it; teach it with ``learn_hour``)."""
        return self.hours

    def learn_hour(self, abs_hour: int, how: int) -> bool:
        """Count an activity; True when it opened a new active hour."""
        return self.hours.add(abs_hour, how)

    def count_hour(self, how: int) -> None:
        """One member's new active hour (peer groups aggregate their members')."""
        self.hours.bump(how)

    def seen_days(self, ts: float) -> float:
        """Days of history behind this baseline: a baseline that has only seen one
        Tuesday knows nothing about Fridays, however many events it holds."""
        return 0.0 if math.isnan(self.first_ts) else (ts - self.first_ts) / 86400.0

    def start(self, ts: float) -> None:
        """Date the baseline's history from ``ts``, unless it is dated already."""
        if math.isnan(self.first_ts):
            self.first_ts = ts

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        # ``small``: a single file or short print, kept out of the per-action band.
        small = x.get("small", False)
        for key in VOLUME_KEYS:
            v = x.get(key)
            if v is not None and not (small and key == "rows"):
                self.stat(key).update(math.log1p(v))
        ts = x.get("ts")
        if ts is not None and math.isnan(self.first_ts):
            self.first_ts = float(ts)

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """Doublings above the top of the usual range, worst quantity (0 = usual)."""
        worst = 0.0
        for key in VOLUME_KEYS:
            v = x.get(key)
            st = self.stat(key)
            if v is None or st.n == 0:
                continue
            worst = max(worst, (math.log1p(v) - st.band(self.k)) / math.log(2))
        return worst


def all_slots(cls: type) -> list[str]:
    out: list[str] = []
    for klass in cls.__mro__:
        out.extend(getattr(klass, "__slots__", ()))
    return out
