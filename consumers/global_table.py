"""A topic every instance reads in full from the beginning, like a global table.

The directory and the shared peer statistics are both read this way; a feed
supplies ``poll`` (what a record does to its table) and gets the rest.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from consumers.catch_up import read_to_end
from consumers.kafka_options import consumer_options
from detector.settings import Settings


class GlobalTableFeed:
    """Assigned every partition of ``topic`` (no group), from the beginning."""

    def __init__(self, settings: Settings, topic: str, what: str) -> None:
        self.settings = settings
        self.records = 0
        self._what = what
        self.consumer = KafkaConsumer(**consumer_options(settings.kafka, group=False))
        parts = self.consumer.partitions_for_topic(topic) or set()
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)

    def poll(self, timeout_ms: int = 0) -> int:
        """Apply what one poll returns; the records it returned."""
        raise NotImplementedError

    def catch_up(self, stall_s: float, quiet_ms: int = 300) -> int:
        """Read to the end before scoring starts; the records read so far.  Fails only
        when the read stops moving for ``stall_s`` (consumers/catch_up.py)."""
        read_to_end(self.consumer, self.tps, self.poll, stall_s,
                    "service.directory_load_timeout_s", quiet_ms)
        return self.records
