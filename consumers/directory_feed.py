"""The employee directory topic, read in full by every instance, like a global table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_options import consumer_options
from detector.directory import Directory
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.employees import parse_employee

log = logging.getLogger("insider.directory")

OnReject = Callable[[InvalidRecord, str, int, int, bytes | None, bytes | None], None]


class DirectoryFeed:
    def __init__(self, settings: Settings, directory: Directory, on_reject: OnReject) -> None:
        self.settings = settings
        self.directory = directory
        self.on_reject = on_reject
        self.records = 0
        self.rejects = 0
        self.consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
        topic = settings.topics.directory
        parts = self.consumer.partitions_for_topic(topic) or set()
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)

    def catch_up(self, timeout: float, quiet_ms: int = 300) -> int:
        """Read to the end before scoring starts; returns the records applied."""
        end = self.consumer.end_offsets(self.tps)
        deadline = time.monotonic() + timeout
        while True:
            n = self.poll(quiet_ms)
            if n == 0 and all(self.consumer.position(tp) >= end[tp] for tp in self.tps):
                return self.records
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"directory topic {self.settings.topics.directory} not read to its end "
                    f"within {timeout:.0f}s (service.directory_load_timeout_s)"
                )

    def poll(self, timeout_ms: int = 0) -> int:
        batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=5000)
        n = 0
        max_bytes = self.settings.input.max_event_bytes
        for tp, msgs in batch.items():
            for m in msgs:
                n += 1
                if m.value is None:
                    continue  # compaction's tombstone: HR history is kept, not erased
                try:
                    self.directory.add(parse_employee(m.value, max_bytes=max_bytes))
                    self.records += 1
                except InvalidRecord as exc:
                    self.rejects += 1
                    self.on_reject(exc, tp.topic, tp.partition, m.offset, m.key, m.value)
        return n

    def close(self) -> None:
        self.consumer.close()
