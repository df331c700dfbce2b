"""Where a published record came from: the input and the transaction that wrote it.

Every record a task publishes (actions, dead letters, audit heads) carries two
headers, so that anyone reading the output topics can audit it without the
service's help:

* ``insider.input``: the input the checkpoint consumed, as
  ``<partition>:<events from>-<events to>:<commands from>-<commands to>``
  (offsets of the events and commands partitions, ``to`` exclusive).  An action
  is decided by one of these events or commands.
* ``insider.producer``: ``<producer id>.<epoch>`` of the task's transactional
  producer (exactly-once only).  A new owner of a partition, or a task
  reopened after a failed checkpoint, gets a higher epoch.

Together they show which transaction a record belongs to.  A committed
transaction moves the group's positions to its ``to``, so every later
transaction of the partition starts at or beyond it; a later epoch that starts
before a transaction's ``to`` proves that transaction was aborted (its input
was read again).  Apache Kafka hides aborted records from read-committed
consumers; on a broker or a reader that does not, these headers let the
aborted ones be told apart and dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consumers.records import OutRecord

INPUT = "insider.input"
PRODUCER = "insider.producer"


@dataclass(frozen=True, slots=True)
class InputRange:
    partition: int
    events_from: int
    events_to: int
    commands_from: int
    commands_to: int

    def encode(self) -> bytes:
        return (f"{self.partition}:{self.events_from}-{self.events_to}:"
                f"{self.commands_from}-{self.commands_to}").encode()

    @staticmethod
    def decode(raw: bytes) -> InputRange:
        """Raises ValueError on anything but what ``encode`` writes."""
        part, events, commands = raw.decode().split(":")
        e_from, e_to = events.split("-")
        c_from, c_to = commands.split("-")
        return InputRange(int(part), int(e_from), int(e_to), int(c_from), int(c_to))

    def starts_before_end_of(self, other: InputRange) -> bool:
        """True if this range starts before ``other`` ends, on either input: it
        read again something ``other`` had consumed (or had yet to commit)."""
        return self.events_from < other.events_to or self.commands_from < other.commands_to


def producer_epoch(producer: Any) -> tuple[int, int] | None:
    """The transactional producer's id and epoch, once ``init_transactions`` ran."""
    manager = getattr(producer, "_transaction_manager", None)
    pe = getattr(manager, "producer_id_and_epoch", None)
    if pe is None or pe.producer_id < 0:
        return None
    return int(pe.producer_id), int(pe.epoch)


def encode_producer(pid_epoch: tuple[int, int]) -> bytes:
    return f"{pid_epoch[0]}.{pid_epoch[1]}".encode()


def decode_producer(raw: bytes) -> tuple[int, int]:
    pid, epoch = raw.decode().split(".")
    return int(pid), int(epoch)


def headers_for(
    span: InputRange, pid_epoch: tuple[int, int] | None
) -> list[tuple[str, bytes]]:
    out = [(INPUT, span.encode())]
    if pid_epoch is not None:
        out.append((PRODUCER, encode_producer(pid_epoch)))
    return out


def with_provenance(
    records: Sequence[OutRecord],
    partition: int,
    start: tuple[int, int],
    end: tuple[int, int],
    producer: Any,
) -> list[OutRecord]:
    """Copies of a checkpoint's records with the provenance headers added."""
    span = InputRange(partition, start[0], end[0], start[1], end[1])
    added = headers_for(span, None if producer is None else producer_epoch(producer))
    return [OutRecord(r.topic, r.key, r.value, [*(r.headers or []), *added]) for r in records]
