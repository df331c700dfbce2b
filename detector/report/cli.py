"""``insider-detector report`` and ``insider-detector incident scope``.

The core registers both; ``consumers.cli`` adds ``--bootstrap`` to ``report``
(reading the topics needs Kafka, which the core never imports) by setting
``read_topics`` to a function returning the actions and published heads.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

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
from detector.report.scope import ScopeKeyError, incident_events, load_key, scope
from detector.settings import Settings, load_settings

TopicReader = Callable[[Settings], tuple[list[ActionDoc], list[PublishedHead]]]


def add_parsers(sub: Any) -> None:
    rp = sub.add_parser("report", help="a one-file HTML compliance report for a period")
    rp.add_argument("--actions", help="actions JSON Lines (replay output or the alerts and "
                                      "freeze topics' records, native or OCSF)")
    rp.add_argument("--directory", help="employee directory JSON Lines (peer groups, notice)")
    rp.add_argument("--events", help="the access events (optional): events scored, volumes, "
                                     "activity under notice")
    rp.add_argument("--output", required=True, help="the HTML file to write")
    rp.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (UTC; default: the "
                                                 "first action's)")
    rp.add_argument("--to", dest="last", help="last day, inclusive (default: the last action's)")
    rp.add_argument("--audit-dir", help="the service's audit trails (service.audit_dir)")
    rp.add_argument("--audit-heads", help="published heads, JSON Lines (the audit heads "
                                          "topic's records)")
    rp.add_argument("--audit-key-file", help="the trails' HMAC key (default: "
                                             "service.audit_key_file)")
    rp.add_argument("--config", help="settings file (TOML); INSIDER_* variables override it")
    rp.set_defaults(func=cmd_report, read_topics=None, bootstrap=None)

    inc = sub.add_parser("incident", help="an incident's scope for customer notification")
    inc_sub = inc.add_subparsers(dest="incident_command", required=True)
    sc = inc_sub.add_parser("scope", help="the customers an incident touched, as keyed "
                                          "references (JSON Lines)")
    sc.add_argument("incident_id")
    sc.add_argument("--actions", required=True, help="actions JSON Lines")
    sc.add_argument("--events", required=True, help="the access events JSON Lines")
    sc.add_argument("--key-file", help="the CRM owner's pseudonym key (default: "
                                       "service.scope_key_file, then service.scope_key)")
    sc.add_argument("--hours-after", type=float, default=0.0,
                    help="also count the employee's events this many hours after the "
                         "incident's last named event (default 0)")
    sc.add_argument("--config", help="settings file (TOML)")
    sc.set_defaults(func=cmd_scope)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


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


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, os.environ)
    try:
        return _report(args, settings)
    except ReportInputError as exc:
        return _error(str(exc))
    except (OSError, ValueError) as exc:
        return _error(str(exc))


def _report(args: argparse.Namespace, settings: Settings) -> int:
    heads: list[PublishedHead] = []
    sources: list[str] = []
    if args.bootstrap:
        if args.actions or args.audit_heads:
            raise ReportInputError("--bootstrap reads the actions and the audit heads from the "
                                   "topics: leave out --actions and --audit-heads")
        reader: TopicReader | None = args.read_topics
        if reader is None:
            raise ReportInputError("--bootstrap: reading topics needs the Kafka commands "
                                   "(run `insider-detector`, not `python -m detector.cli`)")
        settings = dataclasses.replace(settings, kafka=dataclasses.replace(
            settings.kafka, bootstrap_servers=args.bootstrap))
        actions, heads = reader(settings)
        sources.append(f"topics {settings.topics.alerts}, {settings.topics.freeze_commands}, "
                       f"{settings.topics.audit_heads} at {args.bootstrap}")
    elif args.actions:
        actions = read_actions(args.actions)
        sources.append(Path(args.actions).name)
    else:
        raise ReportInputError("--actions: required (or --bootstrap to read the topics)")
    first = parse_day(args.first, "--from") if args.first else None
    last = parse_day(args.last, "--to") if args.last else None
    events, rejects = read_events(args.events) if args.events else (None, 0)
    period = choose_period(actions, first, last, (ev.ts for ev in events or ()))
    inputs = Inputs(period, in_period(period, actions), events=events, event_rejects=rejects)
    if args.directory:
        inputs.directory = read_directory(args.directory)
        sources.append(Path(args.directory).name)
    if args.events:
        sources.append(Path(args.events).name)
    audit = None
    if args.audit_heads:
        heads = read_heads(args.audit_heads)
    if args.audit_dir:
        key = _audit_key(args.audit_key_file or settings.service.audit_key_file)
        audit = check_trails(args.audit_dir, heads, key)
        sources.append(f"audit trails in {Path(args.audit_dir).name}/")
    elif args.audit_heads:
        raise ReportInputError("--audit-heads: needs --audit-dir (the trails to check)")
    figures = compute(inputs, audit.false_positive_commands if audit is not None else None)
    rows = incident_rows(inputs.actions, inputs.events)
    generated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    page = render(figures, rows, audit, sources, generated)
    Path(args.output).write_text(page, encoding="utf-8")
    verdict = ("" if audit is None else
               "; audit trail intact" if audit.intact else "; AUDIT TRAIL ALTERED")
    print(f"wrote {args.output}: {figures.period_text}, {figures.alerts} alerts, "
          f"{len(rows)} incidents{verdict}", file=sys.stderr)
    return 0


def cmd_scope(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, os.environ)
    try:
        key = (load_key("", args.key_file) if args.key_file else
               load_key(settings.service.scope_key, settings.service.scope_key_file))
    except ScopeKeyError as exc:
        return _error(str(exc))
    try:
        actions = read_actions(args.actions)
        events, _ = read_events(args.events)
        found = incident_events(actions, events, args.incident_id, args.hours_after)
    except (ReportInputError, LookupError) as exc:
        return _error(str(exc).strip("'\""))
    out = sys.stdout.buffer
    for line in scope(key, found).lines():
        out.write(orjson.dumps(line) + b"\n")
    out.flush()
    return 0
