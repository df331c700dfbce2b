"""The provenance headers every published record carries (consumers/provenance.py)."""

from __future__ import annotations

import secrets

import pytest
from kafka import KafkaProducer

from consumers.broker import EmbeddedBroker
from consumers.provenance import (
    INPUT,
    PRODUCER,
    InputRange,
    decode_producer,
    producer_epoch,
    with_provenance,
)
from consumers.records import OutRecord


def test_records_get_their_input_range_and_producer_and_keep_their_headers(
    broker: EmbeddedBroker,
) -> None:
    tid = f"provenance-{secrets.token_hex(4)}"
    first = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=tid)
    first.init_transactions()
    original = OutRecord("alerts", b"E1", b"{}", [("action_id", b"a-1")])
    [out] = with_provenance([original], 2, (100, 7), (160, 9), first)
    headers = dict(out.headers or [])
    assert headers["action_id"] == b"a-1"
    assert InputRange.decode(headers[INPUT]) == InputRange(2, 100, 160, 7, 9)
    pid, epoch = decode_producer(headers[PRODUCER])
    assert (pid, epoch) == producer_epoch(first) and pid >= 0
    assert original.headers == [("action_id", b"a-1")], "the pending record is left as it was"
    first.close()
    # A new owner of the same transactional id fences the old one with a higher epoch:
    # what lets a reader order the transactions of one partition.
    second = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=tid)
    second.init_transactions()
    assert producer_epoch(second) == (pid, epoch + 1)
    second.close()


def test_without_a_transactional_producer_only_the_input_is_named() -> None:
    [out] = with_provenance([OutRecord("dlq", None, b"x")], 0, (5, 0), (9, 0), None)
    assert [k for k, _ in out.headers or []] == [INPUT]


@pytest.mark.parametrize("raw", [b"", b"1:2-3", b"1:2-3:4", b"a:1-2:3-4", b"1:2-3:4-5:6"])
def test_a_malformed_input_header_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        InputRange.decode(raw)


def test_a_range_read_again_starts_before_the_end_of_the_first() -> None:
    first = InputRange(0, 10, 20, 0, 0)
    assert InputRange(0, 10, 25, 0, 0).starts_before_end_of(first)
    assert not InputRange(0, 20, 30, 0, 0).starts_before_end_of(first)
    assert InputRange(0, 20, 20, 0, 0).starts_before_end_of(InputRange(0, 20, 20, 0, 1))
