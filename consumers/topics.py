"""The topics the service reads and writes; created at start when allowed."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consumers.errors import TopicError
from consumers.kafka_options import client_options
from detector.settings import Settings

log = logging.getLogger("insider.topics")


def topic_specs(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """Name -> (partitions, configs) for every topic the service touches."""
    t = settings.topics
    n = t.partitions
    compact = {"cleanup.policy": "compact"}
    return {
        t.events: (n, {}),
        t.commands: (n, {}),
        t.changelog: (n, compact),
        t.directory: (max(1, min(n, 3)), compact),
        t.alerts: (n, {}),
        t.freeze_commands: (n, {}),
        t.dead_letter: (max(1, min(n, 3)), {}),
        t.audit_heads: (n, {}),
        t.peer_stats: (n, compact),
    }


def ensure_topics(settings: Settings, timeout: float = 30.0) -> dict[str, int]:
    """Create what is missing (when ``topics.create``), then check co-partitioning.

    Returns the partition count of every topic.  Events, commands and the
    changelog must have the same count: partition p of each belongs to the
    same task.
    """
    specs = topic_specs(settings)
    admin = KafkaAdminClient(**client_options(settings.kafka))
    try:
        have = _partition_counts(admin, list(specs))
        missing = [name for name in specs if name not in have]
        if missing and settings.topics.create:
            new = [
                NewTopic(name, specs[name][0], settings.topics.replication_factor,
                         topic_configs=specs[name][1])
                for name in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
                admin.create_topics(new)
            log.info("created topics", extra={"topics": missing})
            deadline = time.monotonic() + timeout
            while True:
                have = _partition_counts(admin, list(specs))
                if all(name in have for name in specs) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        missing = [name for name in specs if name not in have]
        if missing:
            raise TopicError(
                f"topics missing: {', '.join(missing)} (create them, or set topics.create = true)"
            )
    finally:
        admin.close()
    t = settings.topics
    if settings.scoring.shared_peers and have[t.peer_stats] != have[t.events]:
        raise TopicError(f"{t.peer_stats} must have as many partitions as {t.events} "
                         f"(have {have[t.peer_stats]}, {have[t.events]})")
    if not have[t.events] == have[t.commands] == have[t.changelog]:
        raise TopicError(
            f"{t.events}, {t.commands} and {t.changelog} must have the same number of "
            f"partitions (have {have[t.events]}, {have[t.commands]}, {have[t.changelog]})"
        )
    return have


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    try:
        described = admin.describe_topics(names)
    except KafkaError:
        described = []
    out = {}
    for d in described:
        if d.get("error_code", 0) == 0 and d.get("partitions"):
            out[d.get("name") or d.get("topic")] = len(d["partitions"])
    return out
