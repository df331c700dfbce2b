"""Analysts' commands from ``security.commands``: release a freeze, or call an
alert a false positive.

A command is keyed by the employee it concerns, so that it lands on the same
partition as that employee's events and is applied by the task that holds
their state, in order with their events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detector.errors import InvalidRecord
from detector.wire.jsontext import load_object
from detector.wire.times import parse_timestamp

RELEASE = "release"
FALSE_POSITIVE = "false_positive"
KINDS = (RELEASE, FALSE_POSITIVE)
MAX_COMMAND_BYTES = 8192
_MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class Command:
    command: str
    employee_id: str
    action_id: str | None = None
    reason: str = ""
    analyst: str | None = None
    issued_at: float | None = None


def _text(doc: dict[str, Any], name: str, required: bool, limit: int = 200) -> str | None:
    value = doc.get(name)
    if value is None:
        if required:
            raise InvalidRecord(name, "is required", "missing_field")
        return None
    if not isinstance(value, str):
        raise InvalidRecord(name, "must be a string", "wrong_type")
    if not value.strip():
        raise InvalidRecord(name, "must not be empty", "invalid_value")
    if len(value) > limit:
        raise InvalidRecord(name, f"must be at most {limit} characters", "invalid_value")
    return value


def parse_command(raw: bytes | str | dict[str, Any]) -> Command:
    """Validate one command; raises only InvalidRecord, naming the field."""
    doc = load_object(raw, MAX_COMMAND_BYTES, check_depth=True)
    kind = _text(doc, "command", True)
    if kind not in KINDS:
        raise InvalidRecord("command", f"must be one of {', '.join(KINDS)}", "invalid_value")
    employee_id = _text(doc, "employee_id", True)
    assert employee_id is not None
    action_id = _text(doc, "action_id", kind == FALSE_POSITIVE)
    reason = _text(doc, "reason", False, _MAX_TEXT) or ""
    analyst = _text(doc, "analyst", False)
    issued = doc.get("issued_at")
    issued_at = None
    if issued is not None:
        if not isinstance(issued, str):
            raise InvalidRecord("issued_at", "must be an RFC 3339 date-time string", "wrong_type")
        issued_at = parse_timestamp(issued)
        if issued_at is None:
            raise InvalidRecord("issued_at", "must be an RFC 3339 date-time", "invalid_value")
    unknown = set(doc) - {"command", "employee_id", "action_id", "reason", "analyst", "issued_at"}
    if unknown:
        # The name is the only pointer to the fault, so it must be there and stay short.
        name = sorted(unknown)[0]
        if not name:
            raise InvalidRecord("$", "has a field with an empty name", "unknown_field")
        field = name if len(name) <= 64 else name[:64] + "…"
        raise InvalidRecord(field, "is not a known command field", "unknown_field")
    return Command(kind, employee_id, action_id, reason, analyst, issued_at)
