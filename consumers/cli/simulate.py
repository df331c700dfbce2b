"""``insider-detector simulate``: write a synthetic world with ground truth to a directory."""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

from consumers.cli.common import fail
from detector.simulator.config import ALL_KINDS, SimConfig
from detector.simulator.writer import stream_world


def _count(text: str) -> tuple[str, int]:
    kind, sep, value = text.partition("=")
    if not sep or kind not in ALL_KINDS or not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected KIND=N with KIND one of {', '.join(ALL_KINDS)}")
    return kind, int(value)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="write a synthetic CRM world (events, directory, labels) to a directory")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--employees", type=int, default=200, help="head count (default 200)")
    p.add_argument("--days", type=int, default=28, help="length of the period (default 28)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 5),
                   help="first day, YYYY-MM-DD (default 2026-10-05, a Monday)")
    p.add_argument("--malformed-rate", type=float, default=0.0,
                   help="share of events written as invalid records (default 0)")
    p.add_argument("--scenario-rate", type=float, default=1.0,
                   help="malicious cases of each kind per 100 employees")
    p.add_argument("--benign-rate", type=float, default=1.0,
                   help="benign hard cases of each kind per 100 employees")
    p.add_argument("--count", type=_count, action="append", default=[], metavar="KIND=N",
                   help="exact number of cases of one kind (repeatable)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        config = SimConfig(
            employees=args.employees, days=args.days, seed=args.seed, start=args.start,
            malformed_rate=args.malformed_rate, scenario_rate=args.scenario_rate,
            benign_rate=args.benign_rate, scenario_counts=dict(args.count) or None)
    except ValueError as exc:
        return fail(str(exc))
    began = time.perf_counter()
    summary = stream_world(config, args.out)
    print(f"simulated {summary.text()} -> {args.out} in {time.perf_counter() - began:.1f} s")
    return 0
