"""Mergeable partial statistics: what tasks exchange about peer groups.

Each piece merges exactly and commutatively up to float rounding (and the
table folds contributions in a fixed order, so rounding is the same too):
weighted moments by Chan et al.'s parallel formulas, a log-binned histogram
for quantiles (exactly mergeable, unlike a KLL sketch, and small because the
values are ``log1p`` volumes), hour-of-week profiles as counts.
"""

from __future__ import annotations

import math
from typing import Self

# Histogram bin width in log1p units: 3.5% in rows, finer than any band.
BIN = 0.035


class Moments:
    """Weighted count, mean and sum of squared deviations, merged exactly.

    >>> a, b = Moments(), Moments()
    >>> for x in (1.0, 2.0):
    ...     _ = a.add(x)
    >>> _ = b.add(3.0)
    >>> m = a.merge(b)
    >>> m.w, m.mean, round(m.var, 6)
    (3.0, 2.0, 0.666667)
    """

    __slots__ = ("m2", "mean", "w")

    def __init__(self, w: float = 0.0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.w = w
        self.mean = mean
        self.m2 = m2

    def add(self, x: float, weight: float = 1.0) -> Self:
        w = self.w + weight
        d = x - self.mean
        self.mean += d * weight / w
        self.m2 += weight * d * (x - self.mean)
        self.w = w
        return self

    def merge(self, other: Moments) -> Self:
        """Fold ``other`` in (Chan et al.): the result is that of all the values."""
        if other.w <= 0:
            return self
        w = self.w + other.w
        d = other.mean - self.mean
        self.mean += d * other.w / w
        self.m2 += other.m2 + d * d * self.w * other.w / w
        self.w = w
        return self

    def scale(self, f: float) -> Self:
        """Weigh every value by ``f`` (decay, or a cap on a contributor's weight)."""
        self.w *= f
        self.m2 *= f
        return self

    @property
    def var(self) -> float:
        return self.m2 / self.w if self.w > 0 else 0.0

    def __getstate__(self) -> tuple[float, float, float]:
        return (self.w, self.mean, self.m2)

    def __setstate__(self, s: tuple[float, float, float]) -> None:
        self.w, self.mean, self.m2 = s


class LogHistogram:
    """Weighted counts of ``log1p`` values in bins of ``BIN``: quantiles to within a bin.

    >>> h = LogHistogram()
    >>> for x in range(100):
    ...     _ = h.add(x / 10)
    >>> abs(h.quantile(0.5) - 4.95) <= BIN  # the median of 0.0, 0.1, ..., 9.9
    True
    """

    __slots__ = ("bins", "w")

    def __init__(self) -> None:
        self.bins: dict[int, float] = {}
        self.w = 0.0

    def add(self, x: float, weight: float = 1.0) -> Self:
        b = int(x / BIN) if x > 0 else 0
        self.bins[b] = self.bins.get(b, 0.0) + weight
        self.w += weight
        return self

    def merge(self, other: LogHistogram) -> Self:
        bins = self.bins
        for b, c in other.bins.items():
            bins[b] = bins.get(b, 0.0) + c
        self.w += other.w
        return self

    def scale(self, f: float, drop_below: float = 1e-3) -> Self:
        """Weigh every value by ``f``; bins that faded below ``drop_below`` go."""
        self.bins = {b: c * f for b, c in self.bins.items() if c * f >= drop_below}
        self.w = sum(self.bins.values())
        return self

    def quantile(self, q: float) -> float:
        """The middle of the bin holding the ``q`` quantile (nan when empty): a value
        clipped to it stays in that bin, so clipping cannot climb bin by bin."""
        if self.w <= 0:
            return math.nan
        target = q * self.w
        seen = 0.0
        for b in sorted(self.bins):
            seen += self.bins[b]
            if seen >= target:
                return (b + 0.5) * BIN
        return (max(self.bins) + 0.5) * BIN

    def __getstate__(self) -> tuple[dict[int, float], float]:
        return (self.bins, self.w)

    def __setstate__(self, s: tuple[dict[int, float], float]) -> None:
        self.bins, self.w = s
