"""Partition state in the changelog topic: written with each checkpoint, read on assignment.

Each entry carries the input positions it reflects (``insider.state.at``:
events and commands offsets).  Restoring keeps, per key, the last entry whose
positions do not pass the committed ones.  That rule makes restore right even
when the log holds entries of a transaction that was later aborted (brokers
that do not filter them for read-committed readers) or, in at-least-once mode,
entries flushed just before a crash that kept their offsets from committing:
such entries lie beyond the committed positions and are ignored, and every
older entry for a key changed by the lost work is superseded when that work is
done again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from consumers.catch_up import read_covered
from consumers.records import (
    SHARED_KEY,
    STATE_AT,
    OutRecord,
    employee_key,
    state_at,
)
from detector.engine import Engine
from detector.engine_state import EmployeeState
from detector.settings import Settings
from models.snapshot import SnapshotError, dump, load

log = logging.getLogger("insider.state")


@dataclass(slots=True)
class Restored:
    shared: dict[str, Any] | None = None
    employees: dict[str, EmployeeState] = field(default_factory=dict)
    entries_read: int = 0
    refused: int = 0


def checkpoint_records(
    topic: str, partition: int, engine: Engine, at: tuple[int, int], key: bytes | None
) -> list[tuple[int, OutRecord]]:
    """Changelog entries for every employee changed since the last checkpoint, plus the
    shared part (peer and global baselines, incidents, watermark)."""
    headers = [(STATE_AT, state_at(*at))]
    out = []
    for employee_id in sorted(engine.take_dirty()):
        st = engine.employee_state(employee_id)
        if st is not None:
            out.append((partition, OutRecord(topic, employee_key(employee_id), dump(st, key),
                                             headers)))
    out.append((partition, OutRecord(topic, SHARED_KEY, dump(engine.shared_state(), key),
                                     headers)))
    return out


def restore(
    settings: Settings,
    partitions: Iterable[int],
    committed: dict[int, tuple[int, int]],
    key: bytes | None,
    stall_s: float,
    quiet_ms: int = 300,
) -> dict[int, Restored]:
    """Read the changelog partitions to their end; keep the entries the committed
    positions cover, and decode only those.  However long the log, the read fails
    only when it stops moving for ``stall_s``."""
    parts = sorted(partitions)
    latest, read = read_covered(settings, settings.topics.changelog,
                                {p: committed.get(p, (0, 0)) for p in parts}, stall_s, quiet_ms)
    result = {p: Restored(entries_read=read[p]) for p in parts}
    for p in parts:
        res = result[p]
        for k, v in latest[p].items():
            try:
                obj = load(v, key)
            except SnapshotError as exc:
                res.refused += 1
                log.error("state entry refused", extra={"partition": p, "why": str(exc)})
                continue
            if k == SHARED_KEY and isinstance(obj, dict):
                res.shared = obj
            elif k.startswith(b"e:") and isinstance(obj, EmployeeState):
                res.employees[k[2:].decode()] = obj
            else:
                res.refused += 1
    return result
