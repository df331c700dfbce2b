"""Passes over history behind ``insider-detector baseline``: fit a bundle, evaluate one.

``fit_engines`` learns from past events into engines a bundle is built from
(:mod:`detector.bundles`); ``evaluate_bundle`` replays other events against a
bundle and, with the simulator's labels, measures what it would have caught.
Plain functions taking typed arguments: the command line (``consumers.cli``)
parses options and prints; the notebooks call them directly.
"""

from __future__ import annotations

import math
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
from detector.errors import InputError
from detector.replay import Rejects, _Progress, load_directory, run_records
from detector.settings import Settings
from detector.wire.actions import Action
from detector.wire.events import Event
from detector.wire.jsonl import iter_lines
from models.bundle import Bundle


@dataclass(slots=True)
class HistoryPass:
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
) -> HistoryPass:
    """The replay loop over engines that already hold state (``replay`` starts cold).

    Routing is the service's and ``replay --partitions``'s: Kafka's default
    partitioner on the employee id.
    """
    out = HistoryPass()
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


def _labels(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            labels = orjson.loads(fh.read())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(labels, dict) or not isinstance(labels.get("scenarios", []), list):
        raise InputError(f"{path}: not a simulator labels file")
    return labels


def _within(labels: dict[str, Any], seen: HistoryPass) -> tuple[dict[str, Any], int]:
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


@dataclass(slots=True)
class Fitted:
    """Engines that learned from history, what the pass saw, and (with labels) what it caught."""

    engines: list[Engine]
    seen: HistoryPass
    evaluation: dict[str, Any] | None


def fit_engines(settings: Settings, events_path: str, directory_path: str,
                labels_path: str | None, partitions: int) -> Fitted:
    """Learn baselines from past events, one engine per partition.

    With labels, the metadata keeps what the fit pass itself would have
    caught while still learning (counts only: no employee is named).
    """
    if partitions < 1:
        raise InputError("--partitions must be at least 1")
    try:
        labels = _labels(labels_path) if labels_path else None
        directory = _directory(directory_path, settings)
        engines = bundles.partition_engines(settings, directory, partitions)
        seen = replay_into(engines, iter_lines(events_path), settings,
                           keep_actions=labels is not None,
                           labelled=_labelled_ids(labels) if labels else frozenset())
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: no such file") from None
    if seen.events == 0:
        raise InputError(f"{events_path}: no valid event to learn from")
    evaluation = None
    if labels is not None:
        period, _ = _within(labels, seen)
        evaluation = figures(evaluate(period, seen.actions, seen.data_out_times), cases=False)
    return Fitted(engines, seen, evaluation)


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _per_day(seen: HistoryPass) -> dict[str, dict[str, int]]:
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


def evaluate_bundle(settings: Settings, bundle: Bundle, events_path: str, directory_path: str,
                    labels_path: str | None) -> dict[str, Any]:
    """Replay events against a bundle: actions per day and, with labels, detection figures."""
    try:
        labels = _labels(labels_path) if labels_path else None
        directory = _directory(directory_path, settings)
        engines = bundles.engines_from(bundle, settings, directory)
        seen = replay_into(engines, iter_lines(events_path), settings, keep_actions=True,
                           labelled=_labelled_ids(labels) if labels else frozenset())
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: no such file") from None
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
    return report


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} min"


def evaluation_text(r: dict[str, Any]) -> str:
    """``evaluate_bundle``'s report as the lines ``baseline evaluate`` prints."""
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
