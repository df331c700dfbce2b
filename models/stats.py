"""Compact online statistics following River's ``update``/``get`` protocol.

Per-employee state must stay under a few kilobytes for 100,000 employees, so
these keep only slots and small arrays, and hash identifiers with a stable
CRC (Python's ``hash`` is salted per process and would make replays differ).

Each statistic follows one of the protocols in ``models.protocols``
(``Univariate``, ``Windowed``, ``Counting``, ``Hourly``): ``update`` folds
one observation in and returns the statistic, ``get`` reads the current value
without changing anything.
"""

from __future__ import annotations

import math
import zlib
from array import array
from typing import Self

# Smallest spread assumed for a log-volume baseline: a person who always
# exports exactly 100 rows must not alert at 130.
LOG_SD_FLOOR = 0.35


SETTLE = 25


_HASHES: dict[str, int] = {}


def stable_hash(text: str) -> int:
    """CRC-32 of the text, memoised: devices, IPs and countries repeat all day."""
    h = _HASHES.get(text)
    if h is None:
        if len(_HASHES) >= 1 << 18:
            _HASHES.clear()
        h = _HASHES[text] = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    return h


class EWStat:
    """Exponentially weighted mean and variance with a 1/n warm-up.

    ``update`` clips each value to ``mean ± clip·sd`` once warmed up, so one
    extreme value moves the baseline by a bounded amount.  ``max_rise`` bounds
    how far the mean may move per update (in the statistic's own units), which
    is what keeps a slow escalation from teaching the baseline that 20x is
    normal.

    Follows ``Univariate``.  The first values are averaged plainly (1/n):

    >>> st = EWStat(alpha=0.05)
    >>> for x in (1.0, 2.0, 3.0):
    ...     _ = st.update(x)
    >>> st.get(), st.n
    (2.0, 3)

    A settled mean moves at most ``max_rise`` per update, either way:

    >>> anchor = EWStat(alpha=0.5, max_rise=0.1)
    >>> for _ in range(30):
    ...     _ = anchor.update(1.0)
    >>> round(anchor.update(100.0).get(), 6)
    1.1
    """

    __slots__ = ("alpha", "clip", "max_rise", "mean", "n", "var")

    def __init__(
        self, alpha: float = 0.05, clip: float = 3.0, max_rise: float = math.inf
    ) -> None:
        self.alpha = alpha
        self.clip = clip
        self.max_rise = max_rise
        self.n = 0
        self.mean = 0.0
        self.var = 0.0

    def update(self, x: float) -> EWStat:
        n = self.n + 1
        self.n = n
        if n == 1:
            self.mean = x
            return self
        if n > 5:
            bound = self.clip * max(math.sqrt(self.var), LOG_SD_FLOOR)
            hi = self.mean + bound
            lo = self.mean - bound
            x = hi if x > hi else lo if x < lo else x
        a = 1.0 / n if 1.0 / n > self.alpha else self.alpha
        d = x - self.mean
        step = a * d
        # The bound applies once a first estimate has settled (25 values): for
        # someone who exports once a day, waiting for 1/alpha values would leave
        # the anchor unbounded for months.
        # Bounded both ways: a bound on rises alone would let noise walk the
        # mean down; bounded symmetrically it tracks the median without bias.
        if n > SETTLE and abs(step) > self.max_rise:
            step = self.max_rise if step > 0 else -self.max_rise
        self.mean += step
        self.var = (1.0 - a) * (self.var + a * d * d)
        return self

    def get(self) -> float:
        return self.mean

    @property
    def sd(self) -> float:
        return math.sqrt(self.var)

    def band(self, k: float) -> float:
        """Upper edge of the usual range: mean + k·sd, with the sd floored."""
        sd = math.sqrt(self.var)
        return self.mean + k * (sd if sd > LOG_SD_FLOOR else LOG_SD_FLOOR)

    def __getstate__(self) -> tuple[float, float, float, int, float, float]:
        return (self.alpha, self.clip, self.max_rise, self.n, self.mean, self.var)

    def __setstate__(self, s: tuple[float, float, float, int, float, float]) -> None:
        self.alpha, self.clip, self.max_rise, self.n, self.mean, self.var = s

    def __repr__(self) -> str:
        return f"EWStat(n={self.n}, mean={self.mean:.3f}, sd={self.sd:.3f})"


class WindowSum:
    """Rolling sum over ``slots`` buckets of ``width`` seconds (an exact ring).

    Bucketing trades a little edge precision for a fixed, tiny footprint; an
    event older than the ring is counted in nothing rather than corrupting it.
    Follows ``Windowed``:

    >>> hour = WindowSum(width=300, slots=12)  # an hour in five-minute buckets
    >>> _ = hour.update(0.0, 10).update(600.0, 5)
    >>> hour.get(), hour.get_at(3600.0), hour.get_at(4200.0)
    (15.0, 5.0, 0.0)
    """

    __slots__ = ("last", "ring", "width")

    def __init__(self, width: int = 300, slots: int = 12) -> None:
        self.width = width
        self.ring = array("d", bytes(8 * slots))
        self.last = -1

    def _advance(self, k: int) -> None:
        ring = self.ring
        size = len(ring)
        gap = k - self.last
        if gap >= size or self.last < 0:
            for i in range(size):
                ring[i] = 0.0
        else:
            for j in range(self.last + 1, k + 1):
                ring[j % size] = 0.0
        self.last = k

    def update(self, ts: float, amount: float) -> WindowSum:
        k = int(ts // self.width)
        if k > self.last:
            self._advance(k)
        elif self.last - k >= len(self.ring):
            return self
        self.ring[k % len(self.ring)] += amount
        return self

    def get_at(self, ts: float) -> float:
        """The sum over the window ending at ``ts`` (without changing state)."""
        k = int(ts // self.width)
        size = len(self.ring)
        if self.last < 0 or k - self.last >= size:
            return 0.0
        if k <= self.last:
            return math.fsum(self.ring)
        # Buckets last+1..k are empty; drop the ones that fell out.
        total = 0.0
        for j in range(k - size + 1, self.last + 1):
            total += self.ring[j % size]
        return total

    def get(self) -> float:
        return math.fsum(self.ring) if self.last >= 0 else 0.0

    def __getstate__(self) -> tuple[int, bytes, int]:
        return (self.width, self.ring.tobytes(), self.last)

    def __setstate__(self, s: tuple[int, bytes, int]) -> None:
        self.width, raw, self.last = s
        self.ring = array("d")
        self.ring.frombytes(raw)


# The linear-counting estimate for each number of bits set, worked out once;
# a saturated bitmap reports the ceiling rather than infinity.
_BITS = 512
_LINEAR_COUNT = tuple(
    -_BITS * math.log(max(_BITS - ones, 1) / _BITS) for ones in range(_BITS + 1)
)


class DistinctCounter:
    """Distinct items per period by linear counting over a small bitmap.

    512 bits estimate up to a few thousand distinct customers with a few
    percent error, in 64 bytes, and never hold a customer identifier.
    Follows ``Counting``; repeats count once:

    >>> seen = DistinctCounter()
    >>> for customer in ("C-1", "C-2", "C-1"):
    ...     _ = seen.update(stable_hash(customer))
    >>> seen.ones, seen.total, 2.0 <= seen.get() < 2.01
    (2, 3, True)
    """

    __slots__ = ("bits", "flagged", "ones", "period", "total")

    SIZE = _BITS  # 2**9: the mix below keeps the top nine bits

    def __init__(self) -> None:
        self.bits = bytearray(self.SIZE // 8)
        self.ones = 0
        self.total = 0  # items seen this period, repeats included
        self.period = -1
        self.flagged = False  # the period raised an alert: do not learn from it

    def reset(self, period: int) -> None:
        if self.ones or self.total:
            self.bits = bytearray(self.SIZE // 8)
        self.ones = 0
        self.total = 0
        self.period = period
        self.flagged = False

    def update(self, item_hash: int) -> Self:
        # CRC bits are linear in the input; a multiplicative mix spreads them.
        bit = ((item_hash * 0x9E3779B1) & 0xFFFFFFFF) >> 23
        byte, mask = bit >> 3, 1 << (bit & 7)
        if not self.bits[byte] & mask:
            self.bits[byte] |= mask
            self.ones += 1
        self.total += 1
        return self

    def get(self) -> float:
        return _LINEAR_COUNT[self.ones]

    def measure(self) -> float:
        """Distinct items, or, when the period listed none, the items it counted."""
        return _LINEAR_COUNT[self.ones] if self.ones else float(self.total)

    def __getstate__(self) -> tuple[bytes, int, int, int, bool]:
        return (bytes(self.bits), self.ones, self.total, self.period, self.flagged)

    def __setstate__(self, s: tuple[bytes, int, int, int, bool]) -> None:
        raw, self.ones, self.total, self.period, self.flagged = s
        self.bits = bytearray(raw)


class PacedCounter(DistinctCounter):
    """Distinct items in the last period, sliding: the finished period's count
    fades out linearly as the current one fills, so a burst that straddles a
    boundary is not cut in two.  ``peak`` keeps the busiest finished period
    since it was last taken, so a baseline can learn it once an hour rather
    than on every period."""

    __slots__ = ("peak", "previous")

    def __init__(self) -> None:
        super().__init__()
        self.previous = 0.0
        self.peak = 0.0

    def roll(self, period: int) -> None:
        """Start ``period``; the one just finished carries over if it was the one before."""
        done = self.measure()
        if done > self.peak:
            self.peak = done
        self.previous = done if period == self.period + 1 else 0.0
        self.reset(period)

    def take_peak(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak

    def pace(self, elapsed: float) -> float:
        """Distinct items over the last full period, ``elapsed`` (0-1) into this one."""
        return self.measure() + self.previous * (1.0 - min(1.0, max(0.0, elapsed)))

    def __getstate__(self) -> tuple[bytes, int, int, int, bool, float, float]:  # type: ignore[override]
        return (*super().__getstate__(), self.previous, self.peak)

    def __setstate__(self, s: tuple[bytes, int, int, int, bool, float, float]) -> None:  # type: ignore[override]
        super().__setstate__(s[:5])
        self.previous, self.peak = s[5], s[6]


class RecentSet:
    """The last ``size`` distinct hashed values (devices, IPs, countries).

    Follows ``Counting``; the least recently seen value goes first:

    >>> devices = RecentSet(size=2)
    >>> _ = devices.update(1).update(2).update(1).update(3)
    >>> 1 in devices, 2 in devices, devices.get()
    (True, False, 2)
    """

    __slots__ = ("items", "size")

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.items = array("I")

    def __contains__(self, h: int) -> bool:
        return h in self.items

    def update(self, h: int) -> RecentSet:
        items = self.items
        if h in items:
            if items[-1] != h:
                items.remove(h)
                items.append(h)
            return self
        items.append(h)
        if len(items) > self.size:
            del items[0]
        return self

    def get(self) -> int:
        return len(self.items)

    def __getstate__(self) -> tuple[int, bytes]:
        return (self.size, self.items.tobytes())

    def __setstate__(self, s: tuple[int, bytes]) -> None:
        self.size, raw = s
        self.items = array("I")
        self.items.frombytes(raw)


class HourProfile:
    """Active hours per hour of the week (168 bins, one count per active hour).

    Counting active hours rather than events means one busy odd night adds one
    to a bin, not hundreds, so it cannot make nights look normal.  Follows
    ``Hourly``:

    >>> profile = HourProfile()
    >>> profile.add(abs_hour=1000, how=9), profile.add(abs_hour=1000, how=9)
    (True, False)
    >>> profile.get()
    1
    """

    __slots__ = ("active", "bins", "last_hour")

    CAP = 60000

    def __init__(self) -> None:
        self.bins = array("H", bytes(2 * 168))
        self.active = 0
        self.last_hour = -1  # absolute local hour of the last counted activity

    def update(self, abs_hour: int, how: int) -> HourProfile:
        self.add(abs_hour, how)
        return self

    def add(self, abs_hour: int, how: int) -> bool:
        """Count an activity; True when it opened a new active hour."""
        if abs_hour == self.last_hour:
            return False
        self.last_hour = abs_hour
        self.bump(how)
        return True

    def bump(self, how: int) -> None:
        """Count one active hour directly (peer groups aggregate their members' hours)."""
        bins = self.bins
        if bins[how] >= self.CAP:
            for i in range(168):
                bins[i] //= 2
        bins[how] += 1
        self.active += 1

    def typicality(self, how: int) -> tuple[float, float]:
        """How usual this hour is: (hour-of-week, hour-of-day) ratios to a usual active hour.

        Neighbouring hours are blended in, since a shift that usually ends at
        18:00 makes 18:30 unremarkable.
        """
        bins = self.bins
        hour = how % 24
        week = 0.5 * bins[how] + 0.25 * (bins[(how - 1) % 168] + bins[(how + 1) % 168])
        by_day = 0.0
        for d in range(7):
            base = d * 24
            by_day += (
                0.5 * bins[base + hour]
                + 0.25 * (bins[base + (hour - 1) % 24] + bins[base + (hour + 1) % 24])
            )
        nonzero = 0
        total = 0
        for c in bins:
            if c:
                nonzero += 1
                total += c
        if not nonzero:
            return (0.0, 0.0)
        per_bin = total / nonzero
        hours_used = len({i % 24 for i in range(168) if bins[i]})
        per_hour = total / hours_used
        return (week / per_bin, by_day / per_hour)

    def get(self) -> int:
        return self.active

    def __getstate__(self) -> tuple[bytes, int, int]:
        return (self.bins.tobytes(), self.active, self.last_hour)

    def __setstate__(self, s: tuple[bytes, int, int]) -> None:
        raw, self.active, self.last_hour = s
        self.bins = array("H")
        self.bins.frombytes(raw)
