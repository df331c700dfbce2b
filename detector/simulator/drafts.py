"""Compact event drafts: one packed row per event, so a day of 100,000 people fits in memory.

Rows carry codes into small tables; the rare events with rich payloads (data-out actions and
planted scenarios) keep that payload in :class:`Extras` and point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ACTIONS: tuple[str, ...] = ("login", "logout", "view", "search", "report_run", "export",
                            "download", "print", "bulk_api", "create", "update", "delete", "share")
ACTION_CODE: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}
OBJECTS: tuple[str, ...] = ("account", "contact", "lead", "opportunity", "case", "report", "file")
OBJECT_CODE: dict[str, int] = {o: i for i, o in enumerate(OBJECTS)}

# flag bits
NO_GEO, CITY_GEO, NO_OBJECT, NO_SESSION, NO_DEVICE, BARE_CUSTOMER, NO_CHANNEL = (
    1, 2, 4, 8, 16, 32, 64)

DRAFT = np.dtype([
    ("t", "i8"), ("emp", "i4"), ("act", "i1"), ("cust", "i4"), ("obj", "i1"), ("cnt", "i4"),
    ("sess", "i4"), ("loc", "i1"), ("dev", "i1"), ("chan", "i1"), ("fmt", "i1"), ("off", "i2"),
    ("flags", "u1"), ("extra", "i4"),
])
EMPTY = np.zeros(0, dtype=DRAFT)


_OMISSION_RATES = ((NO_GEO, 0.04), (CITY_GEO, 0.35), (NO_OBJECT, 0.03), (NO_SESSION, 0.03),
                   (NO_DEVICE, 0.02), (BARE_CUSTOMER, 0.04), (NO_CHANNEL, 0.05))


def omissions(n: int, rng: np.random.Generator) -> np.ndarray:
    """Which optional fields each event leaves out, at the rates producers do."""
    u = rng.random((len(_OMISSION_RATES), n))
    flags = np.zeros(n, dtype=np.uint8)
    for row, (bit, rate) in zip(u, _OMISSION_RATES, strict=True):
        flags[row < rate] |= np.uint8(bit)
    return flags


def blank(n: int) -> np.ndarray:
    rows = np.zeros(n, dtype=DRAFT)
    for name in ("cust", "obj", "cnt", "sess", "dev", "chan", "extra"):
        rows[name] = -1
    return rows


@dataclass
class Extra:
    """Payload a row cannot hold. ``context`` replaces where-from fields when not ``None``;
    ``tag`` ties the event to a scenario label (-1: none)."""

    content: dict[str, Any]
    context: dict[str, Any] | None = None
    tag: int = -1


class Extras:
    """Registry of pending payloads, dropped as soon as their event is rendered."""

    def __init__(self) -> None:
        self._items: dict[int, Extra] = {}
        self._next = 0

    def add(self, extra: Extra) -> int:
        key = self._next
        self._items[key] = extra
        self._next += 1
        return key

    def pop(self, key: int) -> Extra:
        return self._items.pop(key)


def concat(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return EMPTY
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
