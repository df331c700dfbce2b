"""``insider-detector demo`` and ``feed``: simulated CRM traffic, on an embedded broker or
on the configured topics (:mod:`consumers.demo`, :mod:`consumers.feed`)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from consumers.cli.common import CONFIG_HELP, install_stop_signals, print_action, settings_of
from consumers.demo import DemoOptions, run_demo
from consumers.feed import publish, simulate
from consumers.topics import ensure_topics


def _world_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--employees", type=int, default=150, help="head count (default 150)")
    p.add_argument("--history-days", type=int, default=14,
                   help="days sent at full speed before the live week (default 14)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="how long the live week takes on the accelerated clock (default 60)")
    p.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")


def add_parsers(sub: Any) -> None:
    dm = sub.add_parser("demo", help="a simulated week through an embedded broker, live")
    _world_arguments(dm)
    dm.add_argument("--partitions", type=int, default=3, help="partitions of the input topics")
    dm.add_argument("--metrics-port", type=int, default=0,
                    help="serve Prometheus metrics here (default: a free port)")
    dm.add_argument("--quiet", action="store_true", help="no line per action, summary only")
    dm.set_defaults(func=cmd_demo)

    fd = sub.add_parser("feed", help="send simulated CRM traffic to the configured topics")
    _world_arguments(fd)
    fd.add_argument("--config", help=CONFIG_HELP)
    fd.set_defaults(func=cmd_feed)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.employees < 10 or args.history_days < 3 or args.seconds <= 0 or args.partitions < 1:
        print("error: need --employees >= 10, --history-days >= 3, --seconds > 0, "
              "--partitions >= 1", file=sys.stderr)
        return 2
    stop = threading.Event()
    install_stop_signals(stop)
    options = DemoOptions(employees=args.employees, history_days=args.history_days,
                          seconds=args.seconds, seed=args.seed, partitions=args.partitions,
                          metrics_port=args.metrics_port)
    return run_demo(options, stop, None if args.quiet else print_action)


def cmd_feed(args: argparse.Namespace) -> int:
    """``insider-detector feed``: simulated traffic to the configured topics."""
    if args.employees < 10 or args.history_days < 3 or args.seconds <= 0:
        print("error: need --employees >= 10, --history-days >= 3, --seconds > 0",
              file=sys.stderr)
        return 2
    settings = settings_of(args)
    stop = threading.Event()
    install_stop_signals(stop)

    def say(text: str) -> None:
        print(f"== {text}", file=sys.stderr, flush=True)

    ensure_topics(settings)
    with tempfile.TemporaryDirectory(prefix="insider-feed-") as work:
        world = simulate(args.employees, args.history_days, args.seed, Path(work))
    sent = publish(settings, world, args.seconds, stop, say)
    say(f"sent {len(world.employees):,} directory records and {sent:,} events")
    return 0
