"""The audit trail's part of the report: each partition's chain, checked.

The service writes one trail per partition (``<topic>-<p>.audit.jsonl``) and
publishes its heads to a topic; a report that shows each chain verified
against those heads, with the hashes, is evidence a reviewer can re-check
with ``insider-detector audit verify``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from detector.audit import COMMAND, Anchor, verify
from detector.wire.commands import FALSE_POSITIVE

_TRAIL = re.compile(r"-(\d+)\.audit\.jsonl$")


@dataclass(frozen=True, slots=True)
class PublishedHead:
    partition: int | None
    seq: int
    hash: str
    at: str | None


@dataclass(slots=True)
class PartitionAudit:
    partition: int | None
    path: str
    entries: int
    head: Anchor | None
    published: list[PublishedHead]
    problems: list[str]
    false_positive_commands: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        if self.problems:
            return f"ALTERED: {self.problems[0]}"
        if not self.published:
            return "intact (no published head to check its end against)"
        return "intact, and matches its published heads"


@dataclass(slots=True)
class AuditSummary:
    partitions: list[PartitionAudit] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return all(p.intact for p in self.partitions)

    @property
    def false_positive_commands(self) -> int:
        return sum(p.false_positive_commands for p in self.partitions)


def parse_heads(lines: list[tuple[str, bytes]]) -> list[PublishedHead]:
    """Published heads from (where, JSON) pairs: ``{"partition", "seq", "hash", "at"}``.

    Raises ValueError naming the line and field.
    """
    out = []
    for where, raw in lines:
        try:
            doc: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError(f"{where}: not JSON") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{where}: not a JSON object")
        seq, value, part = doc.get("seq"), doc.get("hash"), doc.get("partition")
        if type(seq) is not int or seq < 0:
            raise ValueError(f"{where}: field seq: must be an integer >= 0")
        if not isinstance(value, str) or re.fullmatch(r"[0-9a-f]{64}", value) is None:
            raise ValueError(f"{where}: field hash: must be 64 lowercase hex digits")
        if part is not None and type(part) is not int:
            raise ValueError(f"{where}: field partition: must be an integer")
        at = doc.get("at")
        out.append(PublishedHead(part, seq, value, at if isinstance(at, str) else None))
    return out


def read_heads(path: str) -> list[PublishedHead]:
    with open(path, "rb") as fh:
        return parse_heads([(f"{path}: line {n}", raw) for n, raw in enumerate(fh, 1)
                            if raw.strip()])


def _false_positives(path: Path) -> int:
    """Analysts' false-positive commands in a trail (lines that do not parse are skipped:
    verification reports them)."""
    n = 0
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if (isinstance(doc, dict) and doc.get("kind") == COMMAND
                    and isinstance(doc.get("body"), dict)
                    and doc["body"].get("command") == FALSE_POSITIVE):
                n += 1
    return n


def check_trails(audit_dir: str, heads: list[PublishedHead], key: bytes | None
                 ) -> AuditSummary:
    """Verify every ``*.audit.jsonl`` in ``audit_dir`` against its partition's heads.

    A head without a partition applies to a directory holding one trail.
    Raises ValueError when the directory holds no trail, OSError when unreadable.
    """
    trails = sorted(Path(audit_dir).glob("*.audit.jsonl"))
    if not trails:
        raise ValueError(f"--audit-dir {audit_dir}: no *.audit.jsonl trail in it")
    by_partition: dict[int | None, list[PublishedHead]] = defaultdict(list)
    for h in heads:
        by_partition[h.partition].append(h)
    summary = AuditSummary()
    for path in trails:
        m = _TRAIL.search(path.name)
        part = int(m.group(1)) if m else None
        published = list(by_partition.get(part, []))
        if len(trails) == 1:
            published += by_partition.get(None, []) if part is not None else []
        report = verify(path, key, [(h.seq, h.hash) for h in published])
        summary.partitions.append(PartitionAudit(
            partition=part, path=str(path), entries=report.entries, head=report.head,
            published=sorted(published, key=lambda h: h.seq), problems=report.lines(),
            false_positive_commands=_false_positives(path)))
    return summary
