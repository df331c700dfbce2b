"""Replay splits employees over partitions exactly as Kafka's default partitioner does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

from detector.partitioning import murmur2 as ours
from detector.partitioning import partition_for


@given(st.binary(max_size=64))
def test_murmur2_matches_the_kafka_client(data: bytes) -> None:
    assert ours(data) & 0x7FFFFFFF == murmur2(data) & 0x7FFFFFFF


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_partition_matches_the_kafka_client(key: str, n: int) -> None:
    # The client's rule for a keyed record (DefaultPartitioner.partition).
    assert partition_for(key, n) == (murmur2(key.encode()) & 0x7FFFFFFF) % n
