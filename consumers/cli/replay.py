"""``insider-detector replay``: score a JSON Lines file of events and write actions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from consumers.cli.common import print_action, settings_of
from detector.replay import load_directory, open_binary_out, reject_writer, replay
from detector.wire.jsonl import iter_lines


def add_parser(sub: Any) -> None:
    rp = sub.add_parser("replay", help="score a JSON Lines file of events and write actions")
    rp.add_argument("--events", required=True, help="events JSON Lines file, or - for stdin")
    rp.add_argument("--directory", required=True, help="employee directory JSON Lines file")
    rp.add_argument("--output", required=True, help="actions JSON Lines file, or - for stdout")
    rp.add_argument("--rejects", help="write rejected records here (default: stderr)")
    rp.add_argument("--summary-json", help="also write the summary as JSON here")
    rp.add_argument("--print-alerts", action="store_true",
                    help="also print a readable line per action on stderr")
    rp.add_argument("--partitions", type=int, default=1,
                    help="score as the service does on a topic with this many partitions "
                         "(baselines per partition; default 1)")
    rp.add_argument("--config", help="settings file (TOML)")
    rp.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.partitions < 1:
        print("error: --partitions must be at least 1", file=sys.stderr)
        return 2
    rejects_out = open(args.rejects, "wb") if args.rejects else sys.stderr.buffer  # noqa: SIM115
    try:
        if args.directory == "-" and args.events == "-":
            print("error: --events and --directory cannot both be stdin", file=sys.stderr)
            return 2
        directory, n_ok, n_bad = load_directory(
            iter_lines(args.directory),
            reject_writer(rejects_out, "directory"),
            settings.input.max_event_bytes,
        )
        out = open_binary_out(args.output)

        def write(line: bytes) -> object:
            if args.print_alerts:
                print_action(orjson.loads(line))
            return out.write(line)

        try:
            summary, _ = replay(
                settings,
                iter_lines(args.events),
                directory,
                write,
                reject_writer(rejects_out, "events"),
                progress=sys.stderr,
                partitions=args.partitions,
            )
        finally:
            if out is not sys.stdout.buffer:
                out.close()
            else:
                out.flush()
        summary.directory_records, summary.directory_rejects = n_ok, n_bad
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2
    finally:
        if rejects_out is not sys.stderr.buffer:
            rejects_out.close()
    if args.summary_json:
        with open(args.summary_json, "wb") as fh:
            fh.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2))
    print(summary.text(), file=sys.stderr)
    return 0
