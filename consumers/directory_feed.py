"""The employee directory topic, read in full by every instance, like a global table."""

from __future__ import annotations

import logging
from collections.abc import Callable

from consumers.global_table import GlobalTableFeed
from detector.directory import Directory
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.employees import parse_employee

log = logging.getLogger("insider.directory")

OnReject = Callable[[InvalidRecord, str, int, int, bytes | None, bytes | None], None]


class DirectoryFeed(GlobalTableFeed):
    def __init__(self, settings: Settings, directory: Directory, on_reject: OnReject) -> None:
        super().__init__(settings, settings.topics.directory, "directory topic")
        self.directory = directory
        self.on_reject = on_reject
        self.rejects = 0

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
