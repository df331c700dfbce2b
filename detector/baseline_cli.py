"""``insider-detector baseline``: fit baselines on history, check them, publish them.

``fit`` learns from past events and writes a bundle (:mod:`models.bundle`);
``evaluate`` replays other events against a bundle and, with the simulator's
labels, measures what it would have caught; ``publish`` puts a verified bundle
where detectors load it; ``show`` prints what a bundle says about itself.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from detector import bundles
from detector.analysis.evaluation import Evaluation, evaluate
from detector.directory import Directory
from detector.engine import Engine
from detector.errors import DetectorError
from detector.replay import Rejects, _Progress, load_directory, run_records
from detector.settings import Settings, load_settings
from detector.wire.actions import Action
from detector.wire.events import Event
from detector.wire.jsonl import iter_lines


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "baseline", help="fit baselines on history, evaluate, publish and show bundles")
    sub = p.add_subparsers(dest="baseline_command", required=True)

    fit = sub.add_parser("fit", help="learn baselines from past events and write a bundle")
    fit.add_argument("--events", required=True, help="past events, JSON Lines")
    fit.add_argument("--directory", required=True, help="employee directory, JSON Lines")
    fit.add_argument("--out", required=True, help="bundle file to write")
    fit.add_argument("--config", help="settings file (TOML); INSIDER_* variables override it")
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
    ev.add_argument("--config", help="settings file (TOML); INSIDER_* variables override it")
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


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, os.environ)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


@dataclass(slots=True)
class _Pass:
    """What one pass over an events file saw and decided."""

    events: int = 0
    rejects: int = 0
    first_ts: float = math.inf
    last_ts: float = -math.inf
    actions: list[dict[str, Any]] = field(default_factory=list)
    # Event id -> time, for the labelled data-out events (time from first data out).
    data_out_times: dict[str, float] = field(default_factory=dict)

    @property
    def span(self) -> tuple[float | None, float | None]:
        if self.events == 0:
            return None, None
        return self.first_ts, self.last_ts


def replay_into(
    engines: list[Engine],
    lines: Iterable[tuple[int, bytes]],
    settings: Settings,
    keep_actions: bool,
    labelled: frozenset[str] = frozenset(),
) -> _Pass:
    """The replay loop over engines that already hold state (``replay`` starts cold).

    Routing is the service's and ``replay --partitions``'s: Kafka's default
    partitioner on the employee id.
    """
    out = _Pass()
    bar = _Progress(sys.stderr)

    def seen(ev: Event, actions: list[Action]) -> None:
        out.events += 1
        out.first_ts = min(out.first_ts, ev.ts)
        out.last_ts = max(out.last_ts, ev.ts)
        if actions and keep_actions:
            out.actions.extend(a.to_dict() for a in actions)
        if labelled and ev.data_out and ev.event_id in labelled:
            out.data_out_times[ev.event_id] = ev.ts

    rejects = Rejects()
    run_records(engines, lines, settings.input.max_event_bytes, rejects, seen, progress=bar)
    out.rejects = rejects.total
    bar.done()
    return out


def _directory(path: str, settings: Settings) -> Directory:
    directory, _, bad = load_directory(iter_lines(path), None, settings.input.max_event_bytes)
    if bad:
        print(f"note: {bad:,} directory record(s) rejected ({path})", file=sys.stderr)
    return directory


class _InputError(DetectorError):
    """An input file the command cannot use; its message is shown as it is."""


def _labels(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            labels = orjson.loads(fh.read())
    except orjson.JSONDecodeError as exc:
        raise _InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(labels, dict) or not isinstance(labels.get("scenarios", []), list):
        raise _InputError(f"{path}: not a simulator labels file")
    return labels


def _within(labels: dict[str, Any], seen: _Pass) -> tuple[dict[str, Any], int]:
    """The labels of the replayed period, and how many scenarios were left out.

    Labels usually cover a whole simulated world while a bundle is fit on its
    start and evaluated on the rest: a scenario that was over before the first
    replayed event was not there to be caught, one still running was, and the
    false-alert rate is per employee-day of the period replayed.
    """
    first, last = seen.span
    if first is None or last is None:
        return {**labels, "scenarios": [], "benign": [], "days": 0}, len(
            labels.get("scenarios", []))

    def inside(case: dict[str, Any]) -> bool:
        return _when(case["start"]) <= last and _when(case["end"]) >= first

    scenarios = [sc for sc in labels.get("scenarios", []) if inside(sc)]
    benign = [case for case in labels.get("benign", []) if inside(case)]
    days = max(1, math.ceil((last - first) / 86400))
    return ({**labels, "scenarios": scenarios, "benign": benign, "days": days},
            len(labels.get("scenarios", [])) - len(scenarios))


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("z", "Z")).timestamp()


def _labelled_ids(labels: dict[str, Any]) -> frozenset[str]:
    return frozenset(e for sc in labels.get("scenarios", []) for e in sc.get("event_ids", []))


def figures(ev: Evaluation, cases: bool = True) -> dict[str, Any]:
    """Detection figures as JSON, with time to detect per scenario kind.

    ``cases`` adds the missed scenarios and the benign cases alerted on, which
    name employees; a bundle's metadata keeps only the counts.
    """
    out = ev.to_dict()
    minutes: dict[str, list[float]] = {}
    for r in ev.scenarios:
        if r.minutes_to_detect is not None:
            minutes.setdefault(r.kind, []).append(r.minutes_to_detect)
    out["by_kind"] = {
        kind: {"detected": found, "total": total,
               "median_minutes_to_detect":
                   statistics.median(minutes[kind]) if kind in minutes else None}
        for kind, (found, total) in sorted(ev.by_kind.items())
    }
    if not cases:
        out["missed"] = len(out["missed"])
        out["benign_alerted"] = {k: len(v) for k, v in sorted(ev.benign_alerted.items())}
    return out


def cmd_fit(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key = bundles.signing_key(settings)
    if args.partitions < 1:
        return _fail("--partitions must be at least 1")
    try:
        labels = _labels(args.labels) if args.labels else None
        directory = _directory(args.directory, settings)
        engines = [Engine(settings, directory) for _ in range(args.partitions)]
        seen = replay_into(engines, iter_lines(args.events), settings,
                           keep_actions=labels is not None,
                           labelled=_labelled_ids(labels) if labels else frozenset())
    except _InputError as exc:
        return _fail(str(exc))
    except FileNotFoundError as exc:
        return _fail(f"{exc.filename}: no such file")
    if seen.events == 0:
        return _fail(f"{args.events}: no valid event to learn from")
    evaluation = None
    if labels is not None:
        period, _ = _within(labels, seen)
        evaluation = figures(evaluate(period, seen.actions, seen.data_out_times), cases=False)
    first, last = seen.span
    try:
        bundle = bundles.build_bundle(engines, settings=settings, events=seen.events,
                                      first_ts=first, last_ts=last, evaluation=evaluation,
                                      notes=args.notes)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        path = bundles.save(bundle, args.out, key)
    except OSError as exc:
        return _fail(f"{args.out}: cannot write: {exc.strerror}")
    m = bundle.metadata
    print(f"bundle {bundle.version} -> {path}")
    print(f"  learned from {m.events:,} events ({m.first_event} .. {m.last_event}), "
          f"{seen.rejects:,} rejected")
    print(f"  {m.employees:,} employees, {m.peer_groups:,} peer groups, "
          f"{m.partitions} partition(s), {'signed' if key else 'unsigned'}")
    return 0


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _per_day(seen: _Pass) -> dict[str, dict[str, int]]:
    """Alerts and freezes per UTC day of event time, days without any included."""
    first, last = seen.span
    if first is None or last is None:
        return {}
    days: dict[str, dict[str, int]] = {}
    day, end = _day(first), _day(last)
    while day <= end:
        days[day.isoformat()] = {"alerts": 0, "freezes": 0}
        day += timedelta(days=1)
    for a in seen.actions:
        kind = {"alert": "alerts", "freeze": "freezes"}.get(a["type"])
        if kind is None:
            continue
        when = datetime.fromisoformat(a["event_time"]).astimezone(UTC).date().isoformat()
        days.setdefault(when, {"alerts": 0, "freezes": 0})[kind] += 1
    return dict(sorted(days.items()))


def cmd_evaluate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        bundle = bundles.load(args.bundle, bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return _fail(f"{args.bundle}: {exc}")
    for line in bundles.settings_differences(bundle, settings):
        print(f"note: setting {line}", file=sys.stderr)
    try:
        labels = _labels(args.labels) if args.labels else None
        directory = _directory(args.directory, settings)
        engines = bundles.engines_from(bundle, settings, directory)
        seen = replay_into(engines, iter_lines(args.events), settings, keep_actions=True,
                    labelled=_labelled_ids(labels) if labels else frozenset())
    except _InputError as exc:
        return _fail(str(exc))
    except FileNotFoundError as exc:
        return _fail(f"{exc.filename}: no such file")
    count = {t: sum(1 for a in seen.actions if a["type"] == t)
             for t in ("alert", "freeze", "release")}
    first, last = seen.span
    report: dict[str, Any] = {
        "bundle": {"version": bundle.version, "created_at": bundle.metadata.created_at,
                   "first_event": bundle.metadata.first_event,
                   "last_event": bundle.metadata.last_event},
        "events": seen.events,
        "rejects": seen.rejects,
        "first_event": bundles.iso_utc(first),
        "last_event": bundles.iso_utc(last),
        "alerts": count["alert"],
        "freezes": count["freeze"],
        "releases": count["release"],
        "per_day": _per_day(seen),
        "evaluation": None,
    }
    if labels is not None:
        period, left_out = _within(labels, seen)
        report["evaluation"] = figures(evaluate(period, seen.actions, seen.data_out_times))
        report["evaluation"]["scenarios_outside"] = left_out
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(_text(report))
    return 0


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} min"


def _text(r: dict[str, Any]) -> str:
    b = r["bundle"]
    lines = [
        f"bundle {b['version']} (learned {b['first_event']} .. {b['last_event']})",
        f"replayed {r['events']:,} events ({r['first_event']} .. {r['last_event']}), "
        f"{r['rejects']:,} rejected: {r['alerts']:,} alerts, {r['freezes']:,} freezes, "
        f"{r['releases']:,} releases",
        "",
        "day (UTC, event time)   alerts  freezes",
    ]
    lines += [f"{day:<22} {v['alerts']:>7,} {v['freezes']:>8,}" for day, v in r["per_day"].items()]
    ev = r["evaluation"]
    if ev is not None:
        lines += [
            "",
            f"recall {ev['recall']:.3f} ({ev['detected']}/{ev['scenarios']} scenarios), "
            f"precision {ev['precision']:.3f}, median time to detect "
            f"{_minutes(ev['median_minutes_to_detect'])}",
            f"false alerts on {ev['false_alerted_employee_days']} employee-days "
            f"({ev['false_per_1000_employee_days']:.2f} per 1000)",
            "",
            f"{'scenario kind':<30} {'detected':>9}  median time to detect",
        ]
        for kind, k in ev["by_kind"].items():
            lines.append(f"{kind:<30} {k['detected']:>4}/{k['total']:<4}  "
                         f"{_minutes(k['median_minutes_to_detect'])}")
        if ev["missed"]:
            lines.append("missed: " + ", ".join(ev["missed"]))
        if ev["scenarios_outside"]:
            lines.append(f"{ev['scenarios_outside']} labelled scenario(s) lay outside "
                         "the replayed period and are not counted")
    return "\n".join(lines)


def cmd_publish(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        path, bundle = bundles.publish(args.bundle, args.to, bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return _fail(f"{args.bundle}: {exc}; not published")
    except OSError as exc:
        return _fail(f"{args.to}: cannot publish: {exc.strerror}")
    print(f"published {bundle.version} -> {path}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        info = bundles.describe(bundles.read(args.bundle), bundles.signing_key(settings))
    except bundles.BundleError as exc:
        return _fail(f"{args.bundle}: {exc}")
    sys.stdout.write(orjson.dumps(info.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
