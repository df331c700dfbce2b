"""``insider-detector``: the core's commands plus those that need Kafka.

``run`` and ``demo`` serve; ``alerts tail``, ``release`` and ``feedback`` are
the security team's.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from detector.cli import build_parser as core_parser
from detector.cli import run_command
from detector.settings import load_settings


def cmd_run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from consumers import logs
    from consumers.connect_errors import watch_connections
    from consumers.errors import ConnectFailure
    from consumers.service import Service

    settings = load_settings(args.config, os.environ)
    logs.setup(settings.service.log_level)
    stop = threading.Event()
    install_stop_signals(stop)
    with watch_connections() as failures:
        try:
            return Service(settings, stop=stop).run()
        except KafkaError as exc:
            why = failures.explain(settings.kafka)
            if why is None:
                raise
            raise ConnectFailure(why) from exc


def cmd_demo(args: argparse.Namespace) -> int:
    from consumers.demo import run_demo

    return run_demo(args)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the batch in hand, commit, and exit 0."""

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = core_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    rn = sub.add_parser("run", help="score the events topic live, on Kafka")
    rn.add_argument("--config", help="settings file (TOML); INSIDER_* variables override it")
    rn.set_defaults(func=cmd_run)
    from consumers.demo import add_arguments

    dm = sub.add_parser("demo", help="a simulated week through an embedded broker, live")
    add_arguments(dm)
    dm.set_defaults(func=cmd_demo)
    from consumers.feed import add_arguments as feed_arguments
    from consumers.feed import cmd_feed

    fd = sub.add_parser("feed", help="send simulated CRM traffic to the configured topics")
    feed_arguments(fd)
    fd.add_argument("--config", help="settings file (TOML); INSIDER_* variables override it")
    fd.set_defaults(func=cmd_feed)
    from consumers.analyst import add_parsers
    from consumers.report_topics import add_bootstrap

    add_parsers(sub)
    add_bootstrap(sub.choices["report"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from kafka.errors import KafkaError

    try:
        return run_command(build_parser(), argv)
    except (KafkaError, TimeoutError) as exc:
        # The broker cannot be reached or refused us: one line, not a traceback.
        print(f"error: {type(exc).__name__}: {exc} (see kafka.bootstrap_servers and the "
              f"[kafka] security settings)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
