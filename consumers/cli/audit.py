"""``insider-detector audit verify``: check an audit trail file (see :mod:`detector.audit.trail`).

Exit codes: 0 the log verifies, 1 problems were found (each printed), 2 the
log, key or anchors could not be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consumers.cli.common import fail
from detector.audit import Anchor, load_anchors, verify


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="check the tamper-evident audit trail")
    sub = p.add_subparsers(dest="audit_command", required=True)
    v = sub.add_parser("verify", help="walk an audit log and name every entry that was tampered "
                                      "with; exit 0 when it verifies, 1 when not, 2 on errors")
    v.add_argument("path", help="the audit log (JSON Lines)")
    v.add_argument("--key-file", help="the HMAC key the log was written with "
                                      "(the file's contents, surrounding whitespace removed)")
    v.add_argument("--anchors", help="published heads, JSON Lines of {\"seq\": N, \"hash\": H}: "
                                     "shows whether the end of the log was cut off")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    key: bytes | None = None
    if args.key_file:
        try:
            key = Path(args.key_file).read_bytes().strip()
        except OSError as exc:
            return fail(f"--key-file {args.key_file}: {exc.strerror or exc}")
        if not key:
            return fail(f"--key-file {args.key_file}: the file is empty")
    anchors: list[Anchor] = []
    if args.anchors:
        try:
            anchors = load_anchors(args.anchors)
        except OSError as exc:
            return fail(f"--anchors {args.anchors}: {exc.strerror or exc}")
        except ValueError as exc:
            return fail(f"--anchors {args.anchors}: {exc}")
    try:
        report = verify(args.path, key, anchors)
    except OSError as exc:
        return fail(f"{args.path}: {exc.strerror or exc}")
    if report.ok:
        if report.head is None:
            print("ok: 0 entries (empty log)")
        else:
            seq, value = report.head
            print(f"ok: {report.entries} entries, head seq {seq} hash {value}")
        return 0
    for line in report.lines():
        print(line)
    count = len(report.problems)
    print(f"FAILED: {count} problem{'s' if count != 1 else ''} in {args.path} "
          f"({report.entries} entries read)")
    return 1
