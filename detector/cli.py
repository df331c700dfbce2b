"""The core's commands (replay, simulate); ``consumers.cli`` adds those that need Kafka."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import orjson

from detector import __version__
from detector.errors import DetectorError
from detector.settings import Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None), os.environ)


def cmd_replay(args: argparse.Namespace) -> int:
    from detector.replay import load_directory, open_binary_out, reject_writer, replay
    from detector.wire.jsonl import iter_lines

    settings = _settings(args)
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


_SEVERITY_COLOURS = {"low": "36", "medium": "33", "high": "31", "critical": "1;31"}


def print_action(a: dict[str, object]) -> None:
    """One readable line per action on stderr (colour only on a terminal)."""
    colour = sys.stderr.isatty()
    sev = str(a.get("severity", ""))
    kind = str(a.get("type", "")).upper()
    tag = f"{kind:<7} {sev:<8}"
    if colour:
        tag = f"\033[{_SEVERITY_COLOURS.get(sev, '0')}m{tag}\033[0m"
    when = str(a.get("event_time", ""))
    if kind == "ALERT":
        text = f"score {a.get('score')}: {a.get('summary')}"
    elif kind == "FREEZE":
        text = f"data-out rights of {a.get('employee_id')} frozen until {a.get('expires_at')}"
    else:
        text = str(a.get("summary", ""))
    print(f"{when}  {tag} {text}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="insider-detector",
        description="Streaming insider-threat detection for CRM data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

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

    from detector.audit_cli import add_parser as add_audit
    from detector.baseline_cli import add_parser as add_baseline
    from detector.report.cli import add_parsers as add_report
    from detector.simulate_cli import add_parser as add_simulate

    add_simulate(sub)
    add_baseline(sub)
    add_audit(sub)
    add_report(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DetectorError as exc:
        print(exc.cli_message(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
