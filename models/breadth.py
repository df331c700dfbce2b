"""An employee's short-window state for repeated look-ups of one customer and for
mass deletes and updates, and the fading peaks that teach what is usual.

Customer ids are never kept: a look-up is counted under the CRC-32 of the id
in a bounded table of the few customers looked at most recently.  A table of
``LOOKUP_SLOTS`` entries costs a few hundred bytes per employee whatever the
traffic.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from models.stats import stable_hash

# Look-ups are counted in half-window buckets: the current one and the one
# before make a sliding window of 1-2 halves (an estimate that never misses a
# burst inside the window).
LOOKUP_HALF_SECONDS = 900
# Customers followed at once.  A burst on one to three customers needs only a
# few; the table forgets the least recently seen first.
LOOKUP_SLOTS = 6
# Seconds for a learned peak to fade to 1/e of its height.
PEAK_MEMORY = 30 * 86400.0
CHANGE_ACTIONS = ("delete", "update")
# Records changed over a rolling hour, in five-minute buckets.
CHANGE_BUCKET_SECONDS = 300
CHANGE_BUCKETS = 12
# Devices whose last place is kept (laptop, phone, a second machine).
DEVICE_SLOTS = 3


class Breadth:
    """Look-ups per hashed customer and records changed per hour, with peaks.

    ``lookups``: flat rows of (hash, half-window index, count this half,
    count last half, last seen, high tier seen) per followed customer.
    ``peaks``: (height, when) of the largest learned look-up count and of the
    learned hourly deletes and updates.
    """

    __slots__ = ("changed", "changed_last", "devices", "flagged", "floors", "hour",
                 "hour_changed", "lookups", "peaks", "quiet_until")

    def __init__(self) -> None:
        self.lookups = array("d")
        self.peaks = array("d", bytes(8 * 6))
        # Rolling hour of records deleted / updated, in five-minute buckets.
        # Deletes then updates, twelve five-minute buckets each, and the bucket
        # last written.
        # (float32: counts are exact to 16 million a bucket)
        self.changed = array("f", bytes(4 * 2 * CHANGE_BUCKETS))
        self.changed_last = -1
        # The UTC hour being summed and its deletes / updates, learned
        # as peaks when it ends unless an alert flagged it.
        self.hour = -1
        self.hour_changed = [0.0, 0.0]
        self.floors = [0.0, 0.0]  # the deletes / updates per hour that always count
        self.flagged = False  # a delete or update this hour raised an alert
        # Look-ups are not learned until then: an alerted burst's window.
        self.quiet_until = 0.0
        # The last located event of each recent device: (hash, lat, lon, ts) rows.
        self.devices = array("d")

    # -- repeated look-ups -------------------------------------------------------------

    def count_lookup(self, ts: float, customer_ids: tuple[str, ...],
                     tiers: dict[str, int] | None) -> tuple[float, int, bool]:
        """Count one view or search of ``customer_ids``.

        Returns the look-ups over the sliding window of the (up to) three most
        looked-up customers together, how many customers that is, and whether
        one of them is high-tier: a burst on one key account and one spread over
        its two or three contacts read alike.
        """
        half = float(int(ts // LOOKUP_HALF_SECONDS))
        high = 1.0 if tiers and tiers.get("high") else 0.0
        rows = self.lookups
        for cid in customer_ids[:3]:
            h = float(stable_hash(cid))
            i = self._slot(h, ts)
            if rows[i + 1] != half:
                rows[i + 3] = rows[i + 2] if rows[i + 1] == half - 1 else 0.0
                rows[i + 2] = 0.0
                rows[i + 1] = half
            rows[i + 2] += 1.0
            rows[i + 4] = ts
            rows[i + 5] = max(rows[i + 5], high)
        counts: list[tuple[float, bool]] = []
        for i in range(0, len(rows), 6):
            if rows[i + 1] == half:
                counts.append((rows[i + 2] + rows[i + 3], rows[i + 5] > 0))
            elif rows[i + 1] == half - 1:
                counts.append((rows[i + 2], rows[i + 5] > 0))
        counts.sort(reverse=True)
        top = [c for c in counts[:3] if c[0] > 0]
        return sum(c for c, _ in top), len(top), any(h for _, h in top)

    def _slot(self, h: float, ts: float) -> int:
        rows = self.lookups
        oldest, oldest_ts = -1, math.inf
        for i in range(0, len(rows), 6):
            if rows[i] == h:
                return i
            if rows[i + 4] < oldest_ts:
                oldest, oldest_ts = i, rows[i + 4]
        if len(rows) < 6 * LOOKUP_SLOTS:
            rows.extend((h, -1.0, 0.0, 0.0, ts, 0.0))
            return len(rows) - 6
        rows[oldest:oldest + 6] = array("d", (h, -1.0, 0.0, 0.0, ts, 0.0))
        return oldest

    def learn_lookups(self, count: float, ts: float) -> None:
        """A look-up that raised nothing: its count is usual from now on."""
        if ts >= self.quiet_until:
            self._raise_peak(0, count, ts)

    def flag_lookups(self, ts: float) -> None:
        """An alerted look-up: nothing is learned from the rest of its window."""
        self.quiet_until = ts + 2 * LOOKUP_HALF_SECONDS

    # -- mass changes ------------------------------------------------------------------

    def count_change(self, ts: float, action: str, records: int, floor: float) -> float:
        """Add one delete or update of ``records``; that action's records in the last hour.

        ``floor``: what the action may reach in an hour whatever was learned; an
        hour teaches at most a quarter more than half of it or the peak, so a
        rise spread over hours cannot teach itself.
        """
        which = CHANGE_ACTIONS.index(action)
        self.floors[which] = floor
        self._roll(ts)
        self.hour_changed[which] += records
        ring, k = self.changed, int(ts // CHANGE_BUCKET_SECONDS)
        if k > self.changed_last:
            for j in range(max(self.changed_last + 1, k - CHANGE_BUCKETS + 1), k + 1):
                ring[j % CHANGE_BUCKETS] = ring[CHANGE_BUCKETS + j % CHANGE_BUCKETS] = 0.0
            self.changed_last = k
        elif self.changed_last - k >= CHANGE_BUCKETS:
            return float(records)  # older than the ring: counted on its own
        base = which * CHANGE_BUCKETS
        ring[base + k % CHANGE_BUCKETS] += records
        return float(sum(ring[base:base + CHANGE_BUCKETS]))

    def _roll(self, ts: float) -> None:
        hour = int(ts // 3600)
        if hour == self.hour:
            return
        if not self.flagged and self.hour >= 0:
            for which in (0, 1):
                if self.hour_changed[which]:
                    limit = 1.25 * max(self.peak(1 + which, ts), self.floors[which] / 2)
                    self._raise_peak(1 + which, min(limit, self.hour_changed[which]), ts)
        self.hour = hour
        self.hour_changed = [0.0, 0.0]
        self.flagged = False

    def flag_changes(self) -> None:
        """An alerted delete or update: its hour is not learned."""
        self.flagged = True

    # -- devices used at once ----------------------------------------------------------

    def other_devices(self, device: int, ts: float, window: float
                      ) -> list[tuple[float, float, float]]:
        """(lat, lon, ts) of the other devices' last located events within ``window``."""
        rows, h = self.devices, float(device)
        return [(rows[i + 1], rows[i + 2], rows[i + 3]) for i in range(0, len(rows), 4)
                if rows[i] != h and 0.0 <= ts - rows[i + 3] <= window]

    def note_device(self, device: int, lat: float, lon: float, ts: float) -> None:
        """Where and when ``device`` was last seen; the oldest of ``DEVICE_SLOTS`` goes."""
        rows, h = self.devices, float(device)
        for i in range(0, len(rows), 4):
            if rows[i] == h:
                rows[i + 1:i + 4] = array("d", (lat, lon, max(ts, rows[i + 3])))
                return
        if len(rows) < 4 * DEVICE_SLOTS:
            rows.extend((h, lat, lon, ts))
            return
        oldest = min(range(0, len(rows), 4), key=lambda i: rows[i + 3])
        rows[oldest:oldest + 4] = array("d", (h, lat, lon, ts))

    # -- peaks -------------------------------------------------------------------------

    def peak(self, which: int, ts: float) -> float:
        """The learned peak ``which`` (0 look-ups, 1 deletes, 2 updates), faded to ``ts``."""
        height, when = self.peaks[2 * which], self.peaks[2 * which + 1]
        if not height:
            return 0.0
        return height * math.exp(-max(0.0, ts - when) / PEAK_MEMORY)

    def _raise_peak(self, which: int, value: float, ts: float) -> None:
        if value > self.peak(which, ts):
            self.peaks[2 * which] = value
            self.peaks[2 * which + 1] = ts

    # Pickled as a tuple in slot order: names would be most of its size.
    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for k, v in zip(self.__slots__, state, strict=True):
            setattr(self, k, v)
