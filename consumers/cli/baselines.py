"""``insider-detector baseline``: fit baselines on history, check them, publish them.

``fit`` learns from past events and writes a bundle (:mod:`models.bundle`);
``evaluate`` replays other events against a bundle and, with the simulator's
labels, measures what it would have caught; ``publish`` puts a verified bundle
where detectors load it; ``show`` prints what a bundle says about itself.  The
passes over history are :mod:`detector.baseline_runs`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from consumers.cli.common import CONFIG_HELP, fail, settings_of
from detector import bundles
from detector.baseline_runs import evaluate_bundle, evaluation_text, fit_engines


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "baseline", help="fit baselines on history, evaluate, publish and show bundles")
    sub = p.add_subparsers(dest="baseline_command", required=True)

    fit = sub.add_parser("fit", help="learn baselines from past events and write a bundle")
    fit.add_argument("--events", required=True, help="past events, JSON Lines")
    fit.add_argument("--directory", required=True, help="employee directory, JSON Lines")
    fit.add_argument("--out", required=True, help="bundle file to write")
    fit.add_argument("--config", help=CONFIG_HELP)
    fit.add_argument("--notes", default="", help="free text kept in the bundle's metadata")
    fit.add_argument("--labels",
                     help="simulator labels.json: keep in the metadata what the fit pass "
                          "itself would have caught (while still learning)")
    fit.add_argument("--partitions", type=int, default=1,
                     help="baselines per partition, as the service keeps them on a topic "
                          "with this many partitions (default 1)")
    fit.set_defaults(func=cmd_fit)

    ev = sub.add_parser("evaluate", help="replay events against a bundle and report alerts")
    ev.add_argument("bundle", help="bundle file")
    ev.add_argument("--events", required=True, help="events to replay, JSON Lines")
    ev.add_argument("--directory", required=True, help="employee directory, JSON Lines")
    ev.add_argument("--labels", help="simulator labels.json: add recall, precision, time to detect")
    ev.add_argument("--config", help=CONFIG_HELP)
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ev.set_defaults(func=cmd_evaluate)

    pub = sub.add_parser("publish", help="verify a bundle and make it the one detectors load")
    pub.add_argument("bundle", help="bundle file")
    pub.add_argument("--to", default=str(bundles.DEFAULT_PUBLISH_DIR),
                     help=f"directory to publish into, as {bundles.PUBLISHED_NAME} "
                          f"(default {bundles.DEFAULT_PUBLISH_DIR})")
    pub.add_argument("--config", help="settings file (TOML); gives the signing key")
    pub.set_defaults(func=cmd_publish)

    show = sub.add_parser("show", help="print a bundle's metadata as JSON")
    show.add_argument("bundle", help="bundle file")
    show.add_argument("--config", help="settings file (TOML); gives the signing key")
    show.set_defaults(func=cmd_show)


def cmd_fit(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    key = bundles.signing_key(settings)
    fitted = fit_engines(settings, args.events, args.directory, args.labels, args.partitions)
    first, last = fitted.seen.span
    try:
        bundle = bundles.build_bundle(fitted.engines, settings=settings,
                                      events=fitted.seen.events, first_ts=first, last_ts=last,
                                      evaluation=fitted.evaluation, notes=args.notes)
    except ValueError as exc:
        return fail(str(exc))
    try:
        path = bundles.save(bundle, args.out, key)
    except OSError as exc:
        return fail(f"{args.out}: cannot write: {exc.strerror}")
    m = bundle.metadata
    print(f"bundle {bundle.version} -> {path}")
    print(f"  learned from {m.events:,} events ({m.first_event} .. {m.last_event}), "
          f"{fitted.seen.rejects:,} rejected")
    print(f"  {m.employees:,} employees, {m.peer_groups:,} peer groups, "
          f"{m.partitions} partition(s), {'signed' if key else 'unsigned'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    try:
        bundle = bundles.load(args.bundle, bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return fail(f"{args.bundle}: {exc}")
    for line in bundles.settings_differences(bundle, settings):
        print(f"note: setting {line}", file=sys.stderr)
    report = evaluate_bundle(settings, bundle, args.events, args.directory, args.labels)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(evaluation_text(report))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    try:
        path, bundle = bundles.publish(args.bundle, args.to, bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return fail(f"{args.bundle}: {exc}; not published")
    except OSError as exc:
        return fail(f"{args.to}: cannot publish: {exc.strerror}")
    print(f"published {bundle.version} -> {path}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    try:
        info = bundles.describe(bundles.read(args.bundle), bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return fail(f"{args.bundle}: {exc}")
    sys.stdout.write(orjson.dumps(info.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
