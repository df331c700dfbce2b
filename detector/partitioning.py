"""Which partition an employee's events land on, as Kafka's default partitioner decides.

Replay uses it to split the stream exactly as the broker did, so that a replay
with ``--partitions N`` makes the decisions of the service on an N-partition
topic: each partition has baselines of its own.
"""

from __future__ import annotations

from collections.abc import Callable

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 with Kafka's seed, as a signed int like Java's."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: str, partitions: int) -> int:
    """The partition a keyed record goes to (Kafka's murmur2 default partitioner)."""
    if partitions == 1:
        return 0
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def owner(partition: int, partitions: int) -> Callable[[str], bool] | None:
    """Whether an employee's events land on ``partition``; None when there is only one."""
    if partitions <= 1:
        return None
    return lambda employee_id: partition_for(employee_id, partitions) == partition
