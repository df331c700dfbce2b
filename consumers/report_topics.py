"""``insider-detector report --bootstrap``: the report's inputs read from the topics.

Alerts, freezes and releases, and the audit trails' published heads, read
read-committed from the start of each topic to a quiet poll past the end
offsets (as ``alerts tail`` and ``feedback`` read: no consumer group, so the
service's partitions and offsets are untouched).  Only committed records count:
an action a crash took back is not in the report.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_options import consumer_options
from detector.report.audit_check import PublishedHead, parse_heads
from detector.report.inputs import ActionDoc, ReportInputError, dedupe, normalise_action
from detector.settings import Settings


def read_records(settings: Settings, topics: list[str], quiet_s: float = 1.0
                 ) -> list[tuple[str, int, int, bytes]]:
    """(topic, partition, offset, value) of every committed record in ``topics``.

    Reads until every partition's position has reached the end offsets asked
    for at the start, and then one quiet poll more, so a record committed
    while the end was asked for is not missed.
    """
    consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
    out: list[tuple[str, int, int, bytes]] = []
    try:
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        missing = [t for t in topics if not any(tp.topic == t for tp in tps)]
        if missing:
            raise ReportInputError(f"topic {', '.join(missing)} not found")
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        last = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=200)
            for tp, msgs in batch.items():
                out.extend((tp.topic, tp.partition, m.offset, m.value) for m in msgs
                           if m.value is not None)
            if batch:
                last = time.monotonic()
            elif (time.monotonic() - last >= quiet_s
                  and all(consumer.position(tp) >= end[tp] for tp in tps)):
                return out
    finally:
        consumer.close(autocommit=False)


def read_topics(settings: Settings) -> tuple[list[ActionDoc], list[PublishedHead]]:
    """Actions (alerts, freezes, releases) and published heads from the configured topics."""
    t = settings.topics
    records = read_records(settings, [t.alerts, t.freeze_commands, t.audit_heads])
    actions: list[ActionDoc] = []
    heads: list[tuple[str, bytes]] = []
    for topic, partition, offset, value in records:
        where = f"{topic}/{partition}/{offset}"
        if topic == t.audit_heads:
            heads.append((where, value))
            continue
        try:
            doc: Any = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ReportInputError(f"{where}: not JSON") from None
        actions.append(normalise_action(doc, where))
    try:
        published = parse_heads(heads)
    except ValueError as exc:
        raise ReportInputError(str(exc)) from None
    return dedupe(actions), published
