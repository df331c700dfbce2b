"""What the service writes: action records, dead letters and changelog entries."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from detector import __version__
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.actions import ALERT, Action
from detector.wire.ocsf import to_ocsf

# Dead-letter headers follow Kafka Connect's habit: the value is the original
# bytes, untouched; where it came from and why it was refused ride in headers.
DLQ_REASON = "insider.dlq.reason"
DLQ_CODE = "insider.dlq.code"
DLQ_FIELD = "insider.dlq.field"
DLQ_TOPIC = "insider.dlq.topic"
DLQ_PARTITION = "insider.dlq.partition"
DLQ_OFFSET = "insider.dlq.offset"

# Changelog header: the input positions (events, commands) a state entry reflects.
STATE_AT = "insider.state.at"

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None = None


def action_record(settings: Settings, action: Action) -> OutRecord:
    """Alerts go to the security team's topic; freezes and releases to the CRM's."""
    t = settings.topics
    key = action.employee_id.encode()
    if action.type == ALERT:
        if settings.service.alert_format == "ocsf":
            body = to_ocsf(action, product_version=__version__)
        else:
            body = action.to_dict()
        return OutRecord(t.alerts, key, orjson.dumps(body),
                         [("action_id", action.action_id.encode())])
    return OutRecord(
        t.freeze_commands, key, orjson.dumps(action.to_dict()),
        [("action_id", action.action_id.encode())],
    )


def dead_letter(
    settings: Settings,
    exc: InvalidRecord,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> OutRecord:
    headers: Headers = [
        (DLQ_REASON, exc.reason.encode()),
        (DLQ_CODE, exc.code.encode()),
        (DLQ_FIELD, exc.field.encode()),
        (DLQ_TOPIC, topic.encode()),
        (DLQ_PARTITION, str(partition).encode()),
        (DLQ_OFFSET, str(offset).encode()),
    ]
    return OutRecord(settings.topics.dead_letter, key, value or b"", headers)


def employee_key(employee_id: str) -> bytes:
    return b"e:" + employee_id.encode()


SHARED_KEY = b"shared"


def state_at(events_next: int, commands_next: int) -> bytes:
    return f"{events_next},{commands_next}".encode()


def parse_state_at(raw: bytes) -> tuple[int, int] | None:
    try:
        a, b = raw.split(b",")
        return int(a), int(b)
    except ValueError:
        return None
