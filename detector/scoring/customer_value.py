"""Customer value: a share of high-value customers weighs what is already anomalous."""

from __future__ import annotations

from typing import ClassVar

from detector.features import high_tier_share
from detector.scoring.signal import DATA_OUT, BaseSignal, Case, n
from detector.wire.actions import Reason


class CustomerValue(BaseSignal):
    """Points only when data-out signals before it gave some."""

    codes: ClassVar[tuple[str, ...]] = ("high_value_customers",)
    assesses = frozenset({DATA_OUT})

    def assess(self, case: Case) -> None:
        ev = case.obs.ev
        if not ev.data_out or case.data_points <= 0 or not ev.tiers:
            return
        share = high_tier_share(ev)
        if share > 0.2:
            high = ev.tiers.get("high", 0)
            case.add(Reason(
                "high_value_customers",
                f"{n(high)} rows of high-value customers ({round(share * 100)}%)",
                self.s.tier_points * share,
                {"tiers": dict(ev.tiers)},
            ), data_out=True)
