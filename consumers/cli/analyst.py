"""The security team's commands: ``alerts tail``, ``release`` and ``feedback``.

They talk to the same topics as the service, with the same settings file, so
an analyst needs no client of their own (:mod:`consumers.analyst`).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from consumers.analyst import alert_line, find_alert, follow, send_command, severity_at_least
from consumers.cli.common import CONFIG_HELP, settings_of
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.actions import SEVERITIES
from detector.wire.commands import FALSE_POSITIVE, RELEASE


def add_parsers(sub: Any) -> None:
    al = sub.add_parser("alerts", help="follow the alerts topic")
    al_sub = al.add_subparsers(dest="alerts_command", required=True)
    tail = al_sub.add_parser("tail", help="a readable, colour-coded line per alert as it comes")
    tail.add_argument("--config", help=CONFIG_HELP)
    tail.add_argument("--from-beginning", action="store_true",
                      help="start at the oldest retained alert, not at new ones")
    tail.add_argument("--with-freezes", action="store_true",
                      help="also show freeze and release commands")
    tail.add_argument("--severity", choices=SEVERITIES, help="only this severity and above")
    tail.add_argument("--json", action="store_true", help="print each record as JSON")
    tail.add_argument("--colour", "--color", choices=("auto", "always", "never"),
                      default="auto")
    tail.add_argument("--max", type=int, help="stop after this many lines")
    tail.add_argument("--timeout", type=float, help="stop after this many seconds")
    tail.set_defaults(func=cmd_alerts_tail)

    rl = sub.add_parser("release", help="lift an employee's freeze (a command to the service)")
    rl.add_argument("employee_id")
    rl.add_argument("--reason", required=True, help="why, for the audit trail")
    rl.add_argument("--analyst", help="who decided")
    rl.add_argument("--config", help="settings file (TOML)")
    rl.set_defaults(func=cmd_release)

    fb = sub.add_parser("feedback", help="tell the detector an alert was a false positive")
    fb.add_argument("action_id")
    fb.add_argument("verdict", choices=("false-positive",))
    fb.add_argument("--employee", help="the alert's employee (looked up on the alerts topic "
                                       "when left out)")
    fb.add_argument("--reason", help="why, for the audit trail")
    fb.add_argument("--analyst", help="who decided")
    fb.add_argument("--config", help="settings file (TOML)")
    fb.set_defaults(func=cmd_feedback)


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    topics = [settings.topics.alerts]
    if args.with_freezes:
        topics.append(settings.topics.freeze_commands)
    out: IO[str] = sys.stdout
    colour = args.colour == "always" or (args.colour == "auto" and out.isatty())
    deadline = time.monotonic() + args.timeout if args.timeout else None
    shown = 0

    def stop() -> bool:
        return (args.max is not None and shown >= args.max) or (
            deadline is not None and time.monotonic() >= deadline)

    try:
        for topic, _key, m in follow(settings, topics, args.from_beginning, stop):
            try:
                doc = orjson.loads(m.value)
            except orjson.JSONDecodeError:
                print(f"unreadable record at {topic}/{m.partition}/{m.offset}", file=sys.stderr)
                continue
            if not isinstance(doc, dict) or not severity_at_least(doc, args.severity):
                continue
            print(orjson.dumps(doc).decode() if args.json else alert_line(doc, colour),
                  file=out, flush=True)
            shown += 1
            if stop():
                break
    except KeyboardInterrupt:
        pass
    return 0


def _base(args: argparse.Namespace, command: str, employee_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"command": command, "employee_id": employee_id,
                           "issued_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.reason:
        doc["reason"] = args.reason
    if args.analyst:
        doc["analyst"] = args.analyst
    return doc


def _send(settings: Settings, doc: dict[str, Any]) -> int:
    try:
        partition, offset = send_command(settings, doc)
    except InvalidRecord as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sent {doc['command']} for {doc['employee_id']} to {settings.topics.commands} "
          f"(partition {partition}, offset {offset})")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    return _send(settings, _base(args, RELEASE, args.employee_id))


def cmd_feedback(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    employee = args.employee or find_alert(settings, args.action_id)
    if employee is None:
        print(f"error: no alert with action_id {args.action_id} on {settings.topics.alerts}; "
              f"name the employee with --employee", file=sys.stderr)
        return 1
    doc = _base(args, FALSE_POSITIVE, employee)
    doc["action_id"] = args.action_id
    return _send(settings, doc)
