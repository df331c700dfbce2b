"""``insider-detector``: the one command tree, and how a command's failure becomes an exit code.

Every command is registered here, in the order ``--help`` lists them; each
module of this package holds one concern's parsers and handlers.  Any
``DetectorError`` (the root of the errors raised on purpose) becomes one line
on stderr and its ``exit_code``; an unreachable or refusing broker, one line
and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kafka.errors import KafkaError

from consumers.cli import analyst, audit, baselines, demo, replay, report, service, simulate
from detector import __version__
from detector.errors import DetectorError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insider-detector",
        description="Streaming insider-threat detection for CRM data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    replay.add_parser(sub)
    simulate.add_parser(sub)
    baselines.add_parser(sub)
    audit.add_parser(sub)
    report.add_parsers(sub)  # report, incident scope
    service.add_parser(sub)  # run
    demo.add_parsers(sub)  # demo, feed
    analyst.add_parsers(sub)  # alerts tail, release, feedback
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DetectorError as exc:
        print(exc.cli_message(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except (KafkaError, TimeoutError) as exc:
        # The broker cannot be reached or refused us: one line, not a traceback.
        print(f"error: {type(exc).__name__}: {exc} (see kafka.bootstrap_servers and the "
              f"[kafka] security settings)", file=sys.stderr)
        return 1
