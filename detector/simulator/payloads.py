"""Which customers an action touches and how a data-out action describes what it moved."""

from __future__ import annotations

from typing import Any

import numpy as np

from detector.simulator.customers import CustomerPool
from detector.simulator.workforce import Employee, weighted

LIST_LIMIT = 50  # data-out actions up to this size name every customer
_OBJECTS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "export": (("report", "account", "contact", "opportunity"), (0.4, 0.25, 0.2, 0.15)),
    "download": (("file",), (1.0,)),
    "print": (("report", "account"), (0.6, 0.4)),
    "bulk_api": (("account", "contact"), (0.5, 0.5)),
}


def pick_customers(emp: Employee, day: int, n: int, rng: np.random.Generator,
                   customers: CustomerPool, other_share: float | None = None) -> np.ndarray:
    """Mostly the person's own book, then their territories, rarely anyone else's."""
    if n <= 0:
        return np.zeros(0, dtype=np.int32)
    book = emp.book_on(day)
    own = customers.pool(emp.territory_pool_key(day))
    p_book = emp.role.book if len(book) else 0.0
    if other_share is None:
        other_share = 0.0 if emp.all_territories else 0.03
    u, r = rng.random((2, n))
    from_book = u < p_book
    from_own = (~from_book) & (u < 1.0 - other_share)
    out = np.floor(r * customers.size).astype(np.int32)
    if len(own):
        out = np.where(from_own, own[np.floor(r * len(own)).astype(np.int64)], out)
    if len(book):
        out = np.where(from_book, book[np.floor(len(book) * r ** 2.2).astype(np.int64)], out)
    if emp.reassign_day is not None and emp.reassign_day <= day < emp.reassign_day + 6:
        handover = rng.random(n) < 0.15
        if handover.any() and len(emp.book):
            out[handover] = emp.book[rng.integers(0, len(emp.book), size=int(handover.sum()))]
    picked: np.ndarray = out
    return picked


def distinct_customers(emp: Employee, day: int, n: int, rng: np.random.Generator,
                       customers: CustomerPool, other_share: float | None = None) -> np.ndarray:
    drawn = pick_customers(emp, day, int(n * 1.6) + 3, rng, customers, other_share)
    return np.fromiter(dict.fromkeys(drawn.tolist()), dtype=np.int32)[:n]


def listed(customers: CustomerPool, picked: np.ndarray, obj: str,
           rng: np.random.Generator, bytes_per_row: float | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"object_type": obj, "record_count": len(picked),
                               "customers": customers.items(picked)}
    if bytes_per_row is not None and rng.random() < 0.7:
        content["bytes"] = int(len(picked) * bytes_per_row + rng.integers(800, 4000))
    return content


def counted(customers: CustomerPool, rows: int, obj: str, own: tuple[int, ...], own_share: float,
            rng: np.random.Generator, tier_bias: float = 1.0,
            sample: np.ndarray | None = None, bytes_per_row: float | None = None
            ) -> dict[str, Any]:
    territories, tiers = customers.breakdown(rows, own, own_share, rng, tier_bias)
    content: dict[str, Any] = {"object_type": obj, "record_count": rows}
    if sample is not None and len(sample):
        content["customers"] = customers.items(sample)
    content["territories"] = territories
    content["tiers"] = tiers
    if bytes_per_row is not None and rng.random() < 0.7:
        content["bytes"] = int(rows * bytes_per_row + rng.integers(2000, 20000))
    return content


def data_out(emp: Employee, day: int, action: str, rows: int, rng: np.random.Generator,
             customers: CustomerPool, obj: str | None = None, own_share: float | None = None,
             tier_bias: float = 1.0) -> dict[str, Any]:
    """Content of one data-out action of ``rows`` records, in the shape its size calls for."""
    rows = max(1, int(rows))
    if obj is None:
        options, weights = _OBJECTS[action]
        obj = options[weighted(rng, weights)]
    per_row = 250.0 + 450.0 * rng.random()
    if own_share is None:
        own_share = 1.0 - emp.out_share
    if rows <= LIST_LIMIT:
        picked = distinct_customers(emp, day, rows, rng, customers, 1.0 - own_share
                                    if not emp.all_territories else 0.0)
        return listed(customers, picked, obj, rng, per_row)
    sample = None
    if rng.random() < 0.25:
        sample = distinct_customers(emp, day, int(rng.integers(5, 21)), rng, customers)
    return counted(customers, rows, obj, emp.territory_pool_key(day), own_share, rng,
                   tier_bias, sample, per_row)
