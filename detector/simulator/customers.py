"""The customer base: who can be touched, where they sit and what they are worth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from detector.simulator.geography import TERRITORIES, TERRITORY_CODES

TIERS: tuple[str, ...] = ("high", "medium", "low")
TIER_SHARES = np.array([0.08, 0.30, 0.62])


class CustomerPool:
    """Customers as parallel arrays, so that millions of picks stay cheap."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        digits = 6 if size <= 800_000 else 7
        low = 10 ** (digits - 1)
        numbers = rng.choice(9 * low, size=size, replace=False) + low
        shares = np.array([t.customer_share for t in TERRITORIES])
        self.territory = rng.choice(len(TERRITORIES), size=size, p=shares / shares.sum()).astype(
            np.int8)
        self.tier = rng.choice(len(TIERS), size=size, p=TIER_SHARES).astype(np.int8)
        self.ids: list[str] = [f"C-{n}" for n in numbers.tolist()]
        self.territory_names: list[str] = [TERRITORY_CODES[i] for i in self.territory.tolist()]
        self.tier_names: list[str] = [TIERS[i] for i in self.tier.tolist()]
        self.size = size
        self.by_territory: list[np.ndarray] = [
            np.flatnonzero(self.territory == i).astype(np.int32) for i in range(len(TERRITORIES))
        ]
        counts = np.array([len(ix) for ix in self.by_territory], dtype=float)
        self.territory_weight = counts / counts.sum()
        self._pools: dict[tuple[int, ...], np.ndarray] = {}

    def pool(self, territories: Sequence[int]) -> np.ndarray:
        """Customers of a set of territories (all customers for an empty set)."""
        key = tuple(sorted(territories))
        found = self._pools.get(key)
        if found is None:
            if not key or len(key) == len(TERRITORIES):
                found = np.arange(self.size, dtype=np.int32)
            else:
                found = np.sort(np.concatenate([self.by_territory[i] for i in key]))
            self._pools[key] = found
        return found

    def item(self, index: int, bare: bool = False) -> dict[str, Any]:
        if bare:
            return {"id": self.ids[index]}
        return {"id": self.ids[index], "territory": self.territory_names[index],
                "tier": self.tier_names[index]}

    def items(self, indices: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        listed = indices.tolist() if isinstance(indices, np.ndarray) else list(indices)
        ids, terr, tier = self.ids, self.territory_names, self.tier_names
        return [{"id": ids[i], "territory": terr[i], "tier": tier[i]} for i in listed]

    def breakdown(
        self,
        rows: int,
        own: Sequence[int],
        own_share: float,
        rng: np.random.Generator,
        tier_bias: float = 1.0,
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Per-territory and per-tier counts of a large data-out action.

        ``own_share`` of the rows come from ``own`` territories in proportion to their size,
        the rest from the others; ``tier_bias`` > 1 leans toward high-value customers.
        """
        weight = self.territory_weight
        mine = np.zeros(len(TERRITORIES), dtype=bool)
        mine[list(own) if own else slice(None)] = True
        p = np.zeros(len(TERRITORIES))
        if mine.all():
            p[:] = weight
        else:
            p[mine] = own_share * weight[mine] / weight[mine].sum()
            p[~mine] = (1.0 - own_share) * weight[~mine] / weight[~mine].sum()
        return self.spread(rows, p, rng, tier_bias)

    def spread(self, rows: int, weights: np.ndarray, rng: np.random.Generator,
               tier_bias: float = 1.0) -> tuple[dict[str, int], dict[str, int]]:
        """Per-territory and per-tier counts of ``rows`` drawn with territory ``weights``."""
        by_terr = rng.multinomial(rows, weights / weights.sum())
        tier_p = TIER_SHARES * np.array([tier_bias**2, tier_bias, 1.0])
        by_tier = rng.multinomial(rows, tier_p / tier_p.sum())
        territories = {TERRITORY_CODES[i]: int(n) for i, n in enumerate(by_terr) if n > 0}
        tiers = {TIERS[i]: int(n) for i, n in enumerate(by_tier) if n > 0}
        return territories, tiers

    def tally(self, indices: np.ndarray) -> tuple[dict[str, int], dict[str, int]]:
        """Exact per-territory and per-tier counts of known customers."""
        by_terr = np.bincount(self.territory[indices], minlength=len(TERRITORIES))
        by_tier = np.bincount(self.tier[indices], minlength=len(TIERS))
        territories = {TERRITORY_CODES[i]: int(n) for i, n in enumerate(by_terr) if n > 0}
        tiers = {TIERS[i]: int(n) for i, n in enumerate(by_tier) if n > 0}
        return territories, tiers
