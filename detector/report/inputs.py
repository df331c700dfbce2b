"""What a report is made from: actions, the directory, events, a period.

Actions come as published, from a file or (``consumers.report_topics``) from
the topics, native or OCSF; both are read into the native shape so that every
figure has one definition.  A bad line stops the report with its line number
and the field: a compliance report silently built on part of its input would
be worse than none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from detector.directory import Directory
from detector.errors import DetectorError, InvalidRecord
from detector.replay import load_directory
from detector.wire.actions import ALERT, FREEZE, RELEASE, SEVERITIES
from detector.wire.events import Event, parse_event
from detector.wire.jsonl import iter_lines
from detector.wire.times import parse_timestamp

ActionDoc = dict[str, Any]
KINDS = (ALERT, FREEZE, RELEASE)
_REQUIRED = ("action_id", "type", "employee_id", "event_time", "incident_id", "severity")


class ReportInputError(DetectorError, ValueError):
    """An input the report cannot use; the message names the source, line and field."""


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in epoch seconds, and the calendar days it spans (UTC)."""

    start: float
    end: float

    @property
    def days(self) -> list[date]:
        first = datetime.fromtimestamp(self.start, UTC).date()
        last = datetime.fromtimestamp(self.end - 1e-6, UTC).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def contains(self, ts: float) -> bool:
        return self.start <= ts < self.end

    def text(self) -> str:
        first, last = self.days[0], self.days[-1]
        return f"{first.isoformat()} to {last.isoformat()} (UTC)"


@dataclass(slots=True)
class Inputs:
    """Everything a report is computed from; ``events`` is None when not given."""

    period: Period
    actions: list[ActionDoc]
    directory: Directory | None = None
    events: list[Event] | None = None
    event_rejects: int = 0
    sources: list[str] = field(default_factory=list)


def action_time(doc: ActionDoc) -> float:
    ts = parse_timestamp(str(doc["event_time"]))
    assert ts is not None  # checked by normalise_action
    return ts


def from_ocsf(doc: dict[str, Any]) -> ActionDoc:
    """The native fields of an alert published as an OCSF Detection Finding."""
    info = doc.get("finding_info") or {}
    meta = doc.get("metadata") or {}
    unmapped = doc.get("unmapped") or {}
    out: ActionDoc = {
        "action_id": meta.get("uid"),
        "type": ALERT,
        "employee_id": ((doc.get("actor") or {}).get("user") or {}).get("uid"),
        "event_time": meta.get("original_time"),
        "severity": str(doc.get("severity", "")).lower(),
        "score": doc.get("risk_score"),
        "reasons": [e.get("data", {}) for e in doc.get("evidences") or [] if isinstance(e, dict)],
        "event_ids": [r.get("uid") for r in info.get("related_events") or []
                      if isinstance(r, dict)],
        "incident_id": info.get("uid"),
        "summary": doc.get("message", ""),
    }
    if doc.get("activity_id") == 2:
        out["escalation"] = True
    for name in ("peer_group", "employee_status"):
        if name in unmapped:
            out[name] = unmapped[name]
    return out


def normalise_action(doc: Any, where: str) -> ActionDoc:
    """A native action dict, checked for the fields the report reads.

    Raises ReportInputError naming ``where`` and the field.
    """
    if not isinstance(doc, dict):
        raise ReportInputError(f"{where}: not a JSON object")
    if "class_uid" in doc:
        doc = from_ocsf(doc)
    for name in _REQUIRED:
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise ReportInputError(f"{where}: field {name}: missing or not a string")
    if doc["type"] not in KINDS:
        raise ReportInputError(f"{where}: field type: {doc['type'][:20]!r} is not one of "
                               + ", ".join(KINDS))
    if doc["severity"] not in SEVERITIES:
        raise ReportInputError(f"{where}: field severity: not one of " + ", ".join(SEVERITIES))
    if parse_timestamp(doc["event_time"]) is None:
        raise ReportInputError(f"{where}: field event_time: not an RFC 3339 date-time")
    reasons = doc.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, dict) for r in reasons):
        raise ReportInputError(f"{where}: field reasons: must be an array of objects")
    ids = doc.get("event_ids", [])
    if not isinstance(ids, list) or not all(isinstance(e, str) for e in ids):
        raise ReportInputError(f"{where}: field event_ids: must be an array of strings")
    return dict(doc)


def read_actions(path: str) -> list[ActionDoc]:
    """Actions from a JSON Lines file, native or OCSF, each checked."""
    out: list[ActionDoc] = []
    try:
        for line_no, raw in iter_lines(path):
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ReportInputError(f"{path}: line {line_no}: not JSON") from None
            out.append(normalise_action(doc, f"{path}: line {line_no}"))
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    return dedupe(out)


def dedupe(actions: Iterable[ActionDoc]) -> list[ActionDoc]:
    """One per action id, in event-time order: at-least-once delivery may repeat an action."""
    seen: dict[str, ActionDoc] = {}
    for a in actions:
        seen.setdefault(a["action_id"], a)
    return sorted(seen.values(), key=lambda a: (action_time(a), a["action_id"]))


def read_directory(path: str) -> Directory:
    try:
        directory, _, bad = load_directory(iter_lines(path))
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    if bad:
        raise ReportInputError(f"{path}: {bad} invalid directory records "
                               "(`insider-detector replay` names them)")
    return directory


def read_events(path: str) -> tuple[list[Event], int]:
    """Valid events and the number refused (a refused event was never scored)."""
    events: list[Event] = []
    refused = 0
    try:
        for _, raw in iter_lines(path):
            try:
                events.append(parse_event(raw))
            except InvalidRecord:
                refused += 1
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    return events, refused


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReportInputError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def choose_period(actions: list[ActionDoc], first: date | None, last: date | None,
                  event_times: Iterable[float] = ()) -> Period:
    """Whole UTC days from ``first`` to ``last`` inclusive.

    A missing end is taken from the events when given (the period they cover,
    quiet days included), else from the actions.
    """
    times = list(event_times) or [action_time(a) for a in actions]
    if first is None:
        if not times:
            raise ReportInputError("--from: no actions or events to take the period from; "
                                   "give --from")
        first = datetime.fromtimestamp(min(times), UTC).date()
    if last is None:
        last = datetime.fromtimestamp(max(times), UTC).date() if times else first
    if last < first:
        raise ReportInputError("--to: before --from")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
    return Period(start, start + ((last - first).days + 1) * 86400.0)


def in_period(period: Period, actions: list[ActionDoc]) -> list[ActionDoc]:
    return [a for a in actions if period.contains(action_time(a))]
