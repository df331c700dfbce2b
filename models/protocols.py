"""The ``update``/``get`` protocols the statistics in ``models.stats`` follow.

``update`` folds one observation in and returns the statistic; ``get`` reads
the current value without changing anything.  Protocols rather than a base
class, so the statistics keep their ``__slots__`` and stay a few dozen bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from models.stats import DistinctCounter, EWStat, HourProfile, PacedCounter, RecentSet, WindowSum


@runtime_checkable
class Univariate(Protocol):
    """A statistic of a stream of numbers."""

    def update(self, x: float, /) -> Self: ...

    def get(self) -> float: ...


@runtime_checkable
class Windowed(Protocol):
    """A statistic of amounts over time: ``update(ts, amount)``."""

    def update(self, ts: float, amount: float, /) -> Self: ...

    def get(self) -> float: ...


@runtime_checkable
class Counting(Protocol):
    """A statistic of hashed items (customers, devices): ``update(item_hash)``."""

    def update(self, item_hash: int, /) -> Self: ...

    def get(self) -> float: ...


@runtime_checkable
class Hourly(Protocol):
    """A statistic of active local hours: ``update(abs_hour, hour_of_week)``."""

    def update(self, abs_hour: int, how: int, /) -> Self: ...

    def get(self) -> int: ...


# Each statistic and the protocol it follows (checked by mypy below, and by the
# contract tests at run time).
STATISTICS: dict[type, type] = {
    EWStat: Univariate,
    WindowSum: Windowed,
    DistinctCounter: Counting,
    PacedCounter: Counting,
    RecentSet: Counting,
    HourProfile: Hourly,
}

if TYPE_CHECKING:  # each statistic follows its protocol, as mypy checks
    _univariate: Univariate = EWStat()
    _windowed: Windowed = WindowSum()
    _distinct: Counting = DistinctCounter()
    _paced: Counting = PacedCounter()
    _recent: Counting = RecentSet()
    _hourly: Hourly = HourProfile()
