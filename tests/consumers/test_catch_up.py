"""Reading to the end before scoring: bounded by a stall, never by the topic's length."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, TopicPartition

from consumers.broker import EmbeddedBroker
from consumers.catch_up import CatchUpStalled, read_to_end
from consumers.kafka_options import consumer_options
from consumers.topics import ensure_topics
from detector.settings import Settings
from tests.kafka_kit import produce, service_settings

pytestmark = pytest.mark.broker

RECORDS = 40


class StepClock:
    """A clock that moves one second each time it is read, so a read that takes many
    polls spans many 'seconds' without the test waiting for them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture()
def filled(broker: EmbeddedBroker) -> Iterator[tuple[Settings, KafkaConsumer, TopicPartition]]:
    s = service_settings(broker, partitions=1)
    ensure_topics(s)
    produce(broker.bootstrap, s.topics.changelog, [(b"k%d" % i, b"v") for i in range(RECORDS)])
    consumer = KafkaConsumer(**consumer_options(s.kafka, group=False))
    tp = TopicPartition(s.topics.changelog, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    try:
        yield s, consumer, tp
    finally:
        consumer.close()


def test_a_read_longer_than_the_stall_limit_that_keeps_moving_completes(
    filled: tuple[Settings, KafkaConsumer, TopicPartition], caplog: pytest.LogCaptureFixture
) -> None:
    _, consumer, tp = filled
    seen: list[bytes] = []

    def one_at_a_time(quiet_ms: int) -> int:
        msgs = consumer.poll(timeout_ms=quiet_ms, max_records=1).get(tp, [])
        seen.extend(m.key for m in msgs)
        return len(msgs)

    clock = StepClock()
    with caplog.at_level(logging.INFO, logger="insider.catch_up"):
        total = read_to_end(consumer, [tp], one_at_a_time, stall_s=5.0, setting="x.y",
                            clock=clock)
    assert total == RECORDS and seen == [b"k%d" % i for i in range(RECORDS)]
    assert clock.now > 5.0 * 4  # far longer than the stall limit, in all
    assert any(r.getMessage() == "reading to the end" for r in caplog.records)


def test_a_read_that_stops_moving_fails_naming_the_topic_the_backlog_and_the_setting(
    filled: tuple[Settings, KafkaConsumer, TopicPartition],
) -> None:
    s, consumer, tp = filled

    def nothing_arrives(quiet_ms: int) -> int:
        return 0  # the records are there, but none is read: a stalled fetch

    with pytest.raises(CatchUpStalled) as err:
        read_to_end(consumer, [tp], nothing_arrives, stall_s=3.0,
                    setting="service.restore_stall_s", clock=StepClock())
    text = str(err.value)
    assert s.topics.changelog in text and "partitions 0 short of their end offsets" in text
    assert "service.restore_stall_s" in text
