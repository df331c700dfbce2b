"""What the security team's commands do on Kafka: follow alerts, send commands, find an alert.

They talk to the same topics as the service, with the same settings file, so
an analyst needs no client of their own.  Commands are keyed by employee id:
Kafka's partitioner then puts each on the partition of that employee's
events, where the task holding their state applies it in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.kafka_options import consumer_options, producer_options
from detector.settings import Settings
from detector.wire.actions import SEVERITIES
from detector.wire.commands import parse_command

_COLOURS = {"low": "36", "medium": "33", "high": "31", "critical": "1;31"}
_RESET = "\033[0m"


# -- reading actions ----------------------------------------------------------


def native_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields a line shows, from a native action or an OCSF Detection Finding."""
    if "class_uid" not in doc:
        return doc
    info = doc.get("finding_info") or {}
    evidences = doc.get("evidences") or []
    return {
        "action_id": (doc.get("metadata") or {}).get("uid"),
        "type": "alert",
        "employee_id": ((doc.get("actor") or {}).get("user") or {}).get("uid"),
        "event_time": (doc.get("metadata") or {}).get("original_time"),
        "severity": str(doc.get("severity", "")).lower(),
        "score": doc.get("risk_score"),
        "reasons": [e.get("data", {}) for e in evidences if isinstance(e, dict)],
        "incident_id": info.get("uid"),
        "escalation": doc.get("activity_id") == 2,
        "summary": doc.get("message", ""),
    }


def alert_line(doc: dict[str, Any], colour: bool) -> str:
    """One readable line: when, what, how bad, who, why (reason codes) and the summary."""
    a = native_view(doc)
    kind = str(a.get("type", "?"))
    sev = str(a.get("severity", ""))
    tag = f"{kind.upper():<7} {sev:<8}"
    if colour:
        tag = f"\033[{_COLOURS.get(sev, '0')}m{tag}{_RESET}"
    when = str(a.get("event_time", ""))[:19].replace("T", " ")
    who = a.get("employee_id", "?")
    if kind == "alert":
        codes = ",".join(str(r.get("code")) for r in a.get("reasons") or [] if isinstance(r, dict))
        esc = " (escalation)" if a.get("escalation") else ""
        text = f"score {a.get('score')}{esc} [{codes}] {a.get('summary', '')}"
    elif kind == "freeze":
        text = f"data-out rights frozen until {a.get('expires_at')}"
    else:
        text = f"released ({a.get('release_reason', 'unknown')})"
    return f"{when}  {tag} {who:<12} {text}  id={a.get('action_id')}"


def severity_at_least(doc: dict[str, Any], floor: str | None) -> bool:
    if floor is None:
        return True
    sev = native_view(doc).get("severity")
    return sev in SEVERITIES and SEVERITIES.index(sev) >= SEVERITIES.index(floor)


def _assign_all(consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, assigned directly: reading with no consumer group
    takes no partitions from the service and moves nobody's committed offsets."""
    tps = [TopicPartition(t, p) for t in topics
           for p in sorted(consumer.partitions_for_topic(t) or ())]
    if tps:
        consumer.assign(tps)
    return tps


def follow(
    settings: Settings,
    topics: list[str],
    from_beginning: bool,
    stop: Callable[[], bool],
    poll_ms: int = 500,
) -> Iterator[tuple[str, bytes | None, Any]]:
    """(topic, key, record) for every committed record from now (or the start) on."""
    consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
    try:
        tps = _assign_all(consumer, topics)
        if not tps:
            raise SystemExit(f"error: topic {', '.join(topics)} not found")
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        while not stop():
            batch = consumer.poll(timeout_ms=poll_ms)
            for tp, msgs in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for m in msgs:
                    yield tp.topic, m.key, m
    finally:
        consumer.close(autocommit=False)


# -- sending commands ------------------------------------------------------------


def send_command(settings: Settings, doc: dict[str, Any]) -> tuple[int, int]:
    """Validate with the service's own parser, then write and wait for the broker's ack."""
    raw = orjson.dumps(doc)
    parse_command(raw)
    producer = KafkaProducer(**producer_options(settings.kafka))
    try:
        md = producer.send(settings.topics.commands, key=doc["employee_id"].encode(),
                           value=raw).get(timeout=settings.kafka.request_timeout_ms / 1000)
    finally:
        producer.close(timeout=5)
    return md.partition, md.offset


def find_alert(settings: Settings, action_id: str, quiet_s: float = 1.0) -> str | None:
    """The employee an action was about, from the ``action_id`` header of the alerts topic.

    Reads to the end offsets and on until a quiet poll: a record still being
    written when the end was asked for is not missed.
    """
    consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
    wanted = action_id.encode()
    try:
        tps = _assign_all(consumer, [settings.topics.alerts])
        if not tps:
            return None
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        last = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    if any(k == "action_id" and v == wanted for k, v in m.headers or ()):
                        return m.key.decode() if m.key else None
            if batch:
                last = time.monotonic()
            elif (time.monotonic() - last >= quiet_s
                  and all(consumer.position(tp) >= end[tp] for tp in tps)):
                return None
    finally:
        consumer.close(autocommit=False)
