"""What a read-committed reader of the service's outputs sees, accounted for honestly.

Tansu writes transaction markers but answers fetches with an empty list of
aborted transactions, so its read-committed consumers (kafka-python's and
librdkafka's alike) also see the records of aborted transactions.  A duplicate
on Tansu therefore proves nothing by itself, and "no duplicate" would hold only
in runs where no transaction with records was aborted.

This module does not rely on the broker: every record the service publishes
carries its provenance (``consumers/provenance.py``: the input range its
checkpoint consumed and the transactional producer's id and epoch).  From
those headers and the group's final committed positions alone, a transaction
is shown aborted when

* a later epoch of the same producer started before its input's end (the input
  was read again, which happens only if the transaction did not commit), or
* its input ends beyond the group's final committed positions.

The committed view is every record of the other transactions.  What the tests
then check: each action id appears exactly once in the committed view (every
duplicate the reader saw belongs to an aborted transaction), and the committed
view equals replay.  A transaction whose input range is empty (no events or
commands consumed) cannot be shown aborted this way; its records stay in the
committed view, where a copy would fail the check rather than be excused.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from consumers.provenance import INPUT, PRODUCER, InputRange, decode_producer
from detector.settings import Settings


@dataclass(frozen=True, slots=True)
class Seen:
    """One output record as a reader got it."""

    topic: str
    partition: int
    offset: int
    value: bytes
    headers: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class Txn:
    """A transaction, as its records' headers name it."""

    span: InputRange
    producer_id: int
    epoch: int


@dataclass
class Accounting:
    records: int = 0
    transactions: set[Txn] = field(default_factory=set)
    aborted: set[Txn] = field(default_factory=set)
    committed: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0  # copies of an action id beyond the first, as read
    in_aborted: int = 0  # records of aborted transactions
    # Action ids not exactly once in the committed view.
    unexplained: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.records} action records read, {self.duplicates} duplicates; "
                f"{len(self.aborted)} of {len(self.transactions)} transactions shown aborted, "
                f"holding {self.in_aborted} records")


def txn_of(rec: Seen) -> Txn:
    if INPUT not in rec.headers or PRODUCER not in rec.headers:
        raise AssertionError(f"{rec.topic}/{rec.partition}@{rec.offset} has no provenance")
    pid, epoch = decode_producer(rec.headers[PRODUCER])
    return Txn(InputRange.decode(rec.headers[INPUT]), pid, epoch)


def aborted_transactions(txns: Iterable[Txn],
                         committed: dict[int, tuple[int, int]]) -> set[Txn]:
    """The transactions shown aborted by a later epoch or by the committed positions."""
    by_partition: dict[int, list[Txn]] = collections.defaultdict(list)
    for t in txns:
        by_partition[t.span.partition].append(t)
    out = set()
    for p, group in by_partition.items():
        events_at, commands_at = committed.get(p, (0, 0))
        for t in group:
            never_committed = t.span.events_to > events_at or t.span.commands_to > commands_at
            read_again = any(u.producer_id == t.producer_id and u.epoch > t.epoch
                             and u.span.starts_before_end_of(t.span) for u in group)
            if never_committed or read_again:
                out.add(t)
    return out


def _action_id(rec: Seen) -> str:
    return rec.headers["action_id"].decode()


def account(seen: list[Seen], committed: dict[int, tuple[int, int]]) -> Accounting:
    """The committed view of action records read from the alerts and freeze topics."""
    acc = Accounting(records=len(seen))
    txn = {id(r): txn_of(r) for r in seen}
    acc.transactions = set(txn.values())
    acc.aborted = aborted_transactions(acc.transactions, committed)
    ids = collections.Counter(_action_id(r) for r in seen)
    acc.duplicates = sum(n - 1 for n in ids.values())
    kept: collections.Counter[str] = collections.Counter()
    for r in seen:
        if txn[id(r)] in acc.aborted:
            acc.in_aborted += 1
            continue
        kept[_action_id(r)] += 1
        acc.committed.append(orjson.loads(r.value))
    acc.unexplained = sorted(a for a in ids if kept[a] != 1)
    return acc


def read_to_quiet(bootstrap: str, topics: Iterable[str], quiet: float = 1.5,
                  committed: bool = True) -> list[Any]:
    """Every record of some topics, read from the beginning until a quiet spell
    after the end offsets (a broker's end offset may lag its last record, so
    reaching it alone does not prove the read complete)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap,
                      isolation_level="read_committed" if committed else "read_uncommitted",
                      enable_auto_commit=False, max_partition_fetch_bytes=64 * 1024 * 1024,
                      fetch_max_bytes=128 * 1024 * 1024)
    try:
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(c.partitions_for_topic(t) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        out: list[Any] = []
        last = time.monotonic()
        while True:
            batch = c.poll(timeout_ms=200)
            for msgs in batch.values():
                out.extend(msgs)
            if batch:
                last = time.monotonic()
            elif (time.monotonic() - last > quiet
                  and all(c.position(tp) >= end[tp] for tp in tps)):
                return out
    finally:
        c.close()


def read_as_served(bootstrap: str, topics: Iterable[str], quiet: float = 1.5) -> list[Seen]:
    """Every record of some topics, read committed, as the broker serves them."""
    return [Seen(m.topic, m.partition, m.offset, m.value, {k: v for k, v in m.headers})
            for m in read_to_quiet(bootstrap, topics, quiet)]


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """A group's committed positions on a topic (partitions without one are left out)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        out = {}
        for p in sorted(c.partitions_for_topic(topic) or ()):
            off = c.committed(TopicPartition(topic, p))
            if off is not None and off >= 0:
                out[p] = off
        return out
    finally:
        c.close(autocommit=False)


def committed_positions(bootstrap: str, s: Settings) -> dict[int, tuple[int, int]]:
    """The group's committed (events, commands) positions per partition."""
    ev = committed_offsets(bootstrap, s.kafka.group_id, s.topics.events)
    cm = committed_offsets(bootstrap, s.kafka.group_id, s.topics.commands)
    return {p: (ev.get(p, 0), cm.get(p, 0)) for p in set(ev) | set(cm)}
