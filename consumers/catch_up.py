"""Reading topic partitions to their end before scoring, bounded by progress, not by size.

The directory, the peer table, the changelog and the peer-stats partitions are
all read to the end before a task scores.  How long that takes grows with the
topic (a changelog the broker has not compacted yet, a directory of 100k
employees), so a fixed time limit turns a large but healthy read into a failed
start.  The limit here is on a *stall*: the read fails only when nothing has
arrived for ``stall_s`` while a partition is still short of the end offset asked
for at the start; a long read that keeps moving is reported, never cut off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_options import consumer_options
from consumers.records import STATE_AT, parse_state_at
from detector.settings import Settings

log = logging.getLogger("insider.catch_up")

# How often a read still under way says how far it has got.
PROGRESS_EVERY_S = 15.0


class CatchUpStalled(TimeoutError):
    """A read to the end that stopped moving; the message names the topic and the setting."""


def read_to_end(
    consumer: KafkaConsumer,
    tps: Sequence[TopicPartition],
    poll: Callable[[int], int],
    stall_s: float,
    setting: str,
    quiet_ms: int = 300,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Call ``poll(quiet_ms)`` (records applied by one poll) until every partition has
    reached the end offset asked for now and a poll brings nothing; the records read.

    The quiet poll after the end offsets are reached covers brokers whose
    end-offset answer is less than the true end.  Raises :class:`CatchUpStalled`
    when no record arrives for ``stall_s`` before that.
    """
    end = consumer.end_offsets(list(tps))
    topic = tps[0].topic if tps else ""
    started = last_moved = last_said = clock()
    total = 0
    while True:
        n = poll(quiet_ms)
        now = clock()
        if n:
            total += n
            last_moved = now
        elif all(consumer.position(tp) >= end[tp] for tp in tps):
            return total
        if now - last_moved > stall_s:
            short = [str(tp.partition) for tp in tps if consumer.position(tp) < end[tp]]
            raise CatchUpStalled(
                f"{topic}: nothing read for {stall_s:.0f}s with partitions {', '.join(short)} "
                f"short of their end offsets ({setting})")
        if now - last_said >= PROGRESS_EVERY_S:
            last_said = now
            log.info("reading to the end", extra={"topic": topic, "records": total,
                                                   "seconds": round(now - started)})


def read_covered(
    settings: Settings,
    topic: str,
    committed: Mapping[int, tuple[int, int]],
    stall_s: float,
    quiet_ms: int = 300,
) -> tuple[dict[int, dict[bytes, bytes]], dict[int, int]]:
    """Per partition of ``committed``, per key, the last value whose input positions
    (its ``insider.state.at`` header) the committed ones cover, read to the end; and
    the records read per partition.  The changelog's and the peer table's restores
    both rest on this rule (see consumers/changelog.py).  A record with no value
    leaves the key's earlier value in place (the detector writes none).
    """
    parts = sorted(committed)
    latest: dict[int, dict[bytes, bytes]] = {p: {} for p in parts}
    read = dict.fromkeys(parts, 0)
    if not parts:
        return latest, read
    consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)

        def keep_covered(quiet: int) -> int:
            n = 0
            for tp, msgs in consumer.poll(timeout_ms=quiet, max_records=5000).items():
                keep = latest[tp.partition]
                ce, cc = committed[tp.partition]
                n += len(msgs)
                read[tp.partition] += len(msgs)
                for m in msgs:
                    at = None
                    for hk, hv in m.headers or ():
                        if hk == STATE_AT:
                            at = parse_state_at(hv)
                    if (at is None or m.key is None or m.value is None
                            or at[0] > ce or at[1] > cc):
                        continue
                    keep[m.key] = m.value
            return n

        read_to_end(consumer, tps, keep_covered, stall_s, "service.restore_stall_s", quiet_ms)
    finally:
        consumer.close()
    return latest, read
