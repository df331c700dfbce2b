"""``insider-detector report`` and ``insider-detector incident scope``.

The report itself is :mod:`detector.report.build`; ``--bootstrap`` reads its
actions and audit heads from the topics (:mod:`consumers.report_topics`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from consumers.cli.common import CONFIG_HELP, fail, settings_of
from consumers.report_topics import read_topics
from detector.report.build import ReportRequest, incident_scope, write_report
from detector.report.inputs import ReportInputError
from detector.report.scope import load_key


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
    rp.add_argument("--config", help=CONFIG_HELP)
    rp.add_argument(
        "--bootstrap", metavar="HOST:PORT[,...]",
        help="read alerts, freezes, releases and audit heads read-committed from the "
             "configured topics on these brokers instead of --actions / --audit-heads")
    rp.set_defaults(func=cmd_report)

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


def cmd_report(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    request = ReportRequest(
        output=args.output, actions=args.actions, directory=args.directory, events=args.events,
        first=args.first, last=args.last, audit_dir=args.audit_dir,
        audit_heads=args.audit_heads, audit_key_file=args.audit_key_file,
        bootstrap=args.bootstrap)
    try:
        print(write_report(request, settings, read_topics), file=sys.stderr)
    except (ReportInputError, OSError, ValueError) as exc:
        return fail(str(exc))
    return 0


def cmd_scope(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    key = (load_key("", args.key_file) if args.key_file else
           load_key(settings.service.scope_key, settings.service.scope_key_file))
    lines = incident_scope(args.incident_id, args.actions, args.events, key, args.hours_after)
    out = sys.stdout.buffer
    for line in lines:
        out.write(orjson.dumps(line) + b"\n")
    out.flush()
    return 0
