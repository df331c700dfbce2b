"""Scenarios for repeated look-ups of one customer and mass deletes, with their
benign look-alikes (a support case worked over hours, a month-end dedupe).

Kept apart from ``scenarios.py``; ``PLAYS`` there lists these too.  Benign
plays write unlabelled events inside their case's window.
"""

from __future__ import annotations

import numpy as np

from detector.simulator.geography import MINUTE_US
from detector.simulator.scenarios import Script, _clock


def _key_customers(s: Script, k: int) -> list[int]:
    """``k`` high-tier customers of the employee's book (any high-tier ones if none)."""
    cust, day, rng = s.customers, s.case.day, s.rng
    book = s.emp.book_on(day)
    high = [int(c) for c in book.tolist() if cust.tier[int(c)] == 0]
    if len(high) < k:
        high = [int(c) for c in np.flatnonzero(cust.tier == 0)[:500].tolist()]
    return [int(c) for c in rng.choice(high, size=k, replace=False).tolist()]


def repeated_lookups(s: Script) -> str:
    """A few dozen views and searches of one to three key accounts in under half an hour."""
    day, rng = s.case.day, s.rng
    m0 = s.working_minute(30, 90)
    k = int(rng.integers(1, 4))
    targets = _key_customers(s, k)
    total = int(rng.integers(24, 61))
    span = float(rng.uniform(8, 28))
    where = s.usual(day)
    minutes = np.sort(rng.uniform(m0, m0 + span, size=total))
    for minute in minutes.tolist():
        c = targets[int(rng.integers(0, k))]
        content = s.view(c, str(rng.choice(["account", "contact", "opportunity", "case"])))
        action = "search" if rng.random() < 0.25 else "view"
        s.add(day, s.at(day, minute), action, content, where)
    return (f"{total} look-ups of {k} high-value customer(s) in {span:.0f} minutes from "
            f"{_clock(m0)} local")


def mass_delete(s: Script) -> str:
    """Hundreds of records deleted within an hour, singly or in batches."""
    day, rng = s.case.day, s.rng
    m0 = s.working_minute(30, 90)
    where = s.usual(day)
    t = s.add(day, s.at(day, m0), "login", {}, where)
    total = int(np.exp(rng.uniform(np.log(200), np.log(3000))))
    batched = rng.random() < 0.5
    done = 0
    while done < total:
        size = int(rng.integers(20, 201)) if batched else 1
        size = min(size, total - done)
        t += int(rng.uniform(0.5, 3) * MINUTE_US) if batched else int(rng.uniform(3, 12) * 1e6)
        obj = str(rng.choice(["account", "contact", "opportunity", "lead"]))
        s.add(day, t, "delete", {"object_type": obj, "record_count": size}, where)
        done += size
    how = "in batches" if batched else "one by one"
    return f"{total:,} records deleted {how} from {_clock(m0)} local"


def support_case(s: Script) -> str:
    """Benign: one customer looked at every few minutes to half hour over two hours."""
    day, rng = s.case.day, s.rng
    m0 = s.working_minute(30, 150)
    target = _key_customers(s, 1)[0]
    where = s.usual(day)
    n = int(rng.integers(6, 13))
    minutes = np.sort(rng.uniform(m0, m0 + float(rng.uniform(90, 150)), size=n))
    for minute in minutes.tolist():
        s.add(day, s.at(day, minute), "view", s.view(target, "case"), where, malicious=False)
    return f"{n} views of one customer's case over two hours from {_clock(m0)} local"


def month_end_dedupe(s: Script) -> str:
    """Benign: a few dozen duplicates deleted one by one in an afternoon."""
    day, rng = s.case.day, s.rng
    m0 = s.working_minute(60, 120)
    where = s.usual(day)
    n = int(rng.integers(15, 61))
    t = s.at(day, m0)
    for _ in range(n):
        t += int(rng.uniform(0.3, 3) * MINUTE_US)
        s.add(day, t, "delete", {"object_type": "account", "record_count": 1}, where,
              malicious=False)
    return f"month-end dedupe: {n} duplicate accounts deleted from {_clock(m0)} local"
