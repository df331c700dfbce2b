"""The compliance report and an incident's scope, as plain functions.

``consumers.cli.report`` parses the options of ``insider-detector report`` and
``incident scope`` and calls these; reading the topics (``--bootstrap``) needs
Kafka, which the core never imports, so the caller passes that reader in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detector.report.audit_check import PublishedHead, check_trails, read_heads
from detector.report.figures import compute
from detector.report.html import render
from detector.report.incidents import incident_rows
from detector.report.inputs import (
    ActionDoc,
    Inputs,
    ReportInputError,
    choose_period,
    in_period,
    parse_day,
    read_actions,
    read_directory,
    read_events,
)
from detector.report.scope import incident_events, scope
from detector.settings import Settings

TopicReader = Callable[[Settings], tuple[list[ActionDoc], list[PublishedHead]]]


def _audit_key(path: str) -> bytes | None:
    if not path:
        return None
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ReportInputError(f"audit key file {path}: {exc.strerror or exc}") from None
    if not key:
        raise ReportInputError(f"audit key file {path}: the file is empty")
    return key


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What ``insider-detector report`` was asked for (paths, or topics at ``bootstrap``)."""

    output: str
    actions: str | None = None
    directory: str | None = None
    events: str | None = None
    first: str | None = None
    last: str | None = None
    audit_dir: str | None = None
    audit_heads: str | None = None
    audit_key_file: str | None = None
    bootstrap: str | None = None


def write_report(request: ReportRequest, settings: Settings,
                 read_topics: TopicReader | None = None) -> str:
    """Write the HTML report and return the line that says what it holds.

    ``read_topics`` reads the actions and published heads from Kafka for
    ``bootstrap``: the Kafka layer passes it, since the core never imports Kafka.
    """
    heads: list[PublishedHead] = []
    sources: list[str] = []
    if request.bootstrap:
        if request.actions or request.audit_heads:
            raise ReportInputError("--bootstrap reads the actions and the audit heads from the "
                                   "topics: leave out --actions and --audit-heads")
        reader = read_topics
        if reader is None:
            raise ReportInputError("--bootstrap: reading topics needs the Kafka layer")
        settings = dataclasses.replace(settings, kafka=dataclasses.replace(
            settings.kafka, bootstrap_servers=request.bootstrap))
        actions, heads = reader(settings)
        sources.append(f"topics {settings.topics.alerts}, {settings.topics.freeze_commands}, "
                       f"{settings.topics.audit_heads} at {request.bootstrap}")
    elif request.actions:
        actions = read_actions(request.actions)
        sources.append(Path(request.actions).name)
    else:
        raise ReportInputError("--actions: required (or --bootstrap to read the topics)")
    first = parse_day(request.first, "--from") if request.first else None
    last = parse_day(request.last, "--to") if request.last else None
    events, rejects = read_events(request.events) if request.events else (None, 0)
    period = choose_period(actions, first, last, (ev.ts for ev in events or ()))
    inputs = Inputs(period, in_period(period, actions), events=events, event_rejects=rejects)
    if request.directory:
        inputs.directory = read_directory(request.directory)
        sources.append(Path(request.directory).name)
    if request.events:
        sources.append(Path(request.events).name)
    audit = None
    if request.audit_heads:
        heads = read_heads(request.audit_heads)
    if request.audit_dir:
        key = _audit_key(request.audit_key_file or settings.service.audit_key_file)
        audit = check_trails(request.audit_dir, heads, key)
        sources.append(f"audit trails in {Path(request.audit_dir).name}/")
    elif request.audit_heads:
        raise ReportInputError("--audit-heads: needs --audit-dir (the trails to check)")
    figures = compute(inputs, audit.false_positive_commands if audit is not None else None)
    rows = incident_rows(inputs.actions, inputs.events)
    generated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    page = render(figures, rows, audit, sources, generated)
    Path(request.output).write_text(page, encoding="utf-8")
    verdict = ("" if audit is None else
               "; audit trail intact" if audit.intact else "; AUDIT TRAIL ALTERED")
    return (f"wrote {request.output}: {figures.period_text}, {figures.alerts} alerts, "
            f"{len(rows)} incidents{verdict}")


def incident_scope(incident_id: str, actions_path: str, events_path: str, key: bytes,
                   hours_after: float) -> list[dict[str, Any]]:
    """The customers an incident touched, as keyed references (``incident scope``'s lines)."""
    try:
        actions = read_actions(actions_path)
        events, _ = read_events(events_path)
        found = incident_events(actions, events, incident_id, hours_after)
    except (ReportInputError, LookupError) as exc:
        raise ReportInputError(str(exc).strip("'\"")) from None
    return scope(key, found).lines()
