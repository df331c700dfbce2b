"""Bounded waits for the steps of a Kafka transaction.

kafka-python (3.0.12) waits without a limit for ``send_offsets_to_transaction``,
``commit_transaction`` and ``abort_transaction``, and a transaction that was
open while the broker was down does not complete after the broker is back: the
consume loop would wait for ever.  These helpers start the same steps and give
up after ``timeout_s`` with ``KafkaTimeoutError``.  A producer that timed out is
then closed without an abort; the next producer with its transactional id
(``init_transactions``) fences it and aborts its open transaction on the
broker, so nothing of that transaction becomes visible to a read-committed
reader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata


def _bounded(producer: KafkaProducer, step: str, start: Callable[[], Any],
             timeout_s: float) -> None:
    result = start()
    producer._sender.wakeup()
    if not result.wait(timeout_ms=int(timeout_s * 1000)):
        raise KafkaTimeoutError(f"{step} did not complete within {timeout_s:.0f} s")


def commit_offsets_and_transaction(
    producer: KafkaProducer, offsets: dict[TopicPartition, OffsetAndMetadata], group: Any,
    timeout_s: float,
) -> None:
    """``send_offsets_to_transaction`` then ``commit_transaction``, each bounded."""
    manager = producer._transaction_manager
    _bounded(producer, "adding the offsets to the transaction",
             lambda: manager.send_offsets_to_transaction(offsets, group), timeout_s)
    _bounded(producer, "committing the transaction", manager.begin_commit, timeout_s)


def abort_transaction(producer: KafkaProducer, timeout_s: float) -> None:
    """``abort_transaction``, bounded."""
    _bounded(producer, "aborting the transaction", producer._transaction_manager.begin_abort,
             timeout_s)


def close_producer(producer: KafkaProducer, timeout_s: float) -> None:
    """``close``; when its flush times out (the broker is gone), the sender is stopped
    without sending what is pending (a transaction's records: aborted by the next
    producer with its id)."""
    try:
        producer.close(timeout=timeout_s)
    except KafkaError:
        producer._sender.force_close()
        producer._sender.join(timeout_s)
        with contextlib.suppress(KafkaError):
            producer.close(timeout=0)
