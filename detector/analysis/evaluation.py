"""Scoring the detector against ground truth (simulator ``labels.json``).

Shared by the tests, the benchmarks and ``baseline evaluate`` so that every
figure we publish is computed one way.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# An alert up to this long after a scenario's last malicious event still counts.
GRACE_SECONDS = 86400.0


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("z", "Z")).timestamp()


@dataclass(slots=True)
class ScenarioResult:
    id: str
    kind: str
    employee_id: str
    detected: bool
    minutes_to_detect: float | None
    first_severity: str | None
    # From the scenario's first data-out action rather than its first event
    # (often a login); None when unknown or there was no data out.
    minutes_from_first_data_out: float | None = None


@dataclass(slots=True)
class Evaluation:
    scenarios: list[ScenarioResult]
    benign_alerted: dict[str, list[str]]  # kind -> employee ids alerted in the case window
    false_employee_days: int
    employee_days: int
    alerts: int
    true_alerts: int
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return sum(r.detected for r in self.scenarios) / max(len(self.scenarios), 1)

    @property
    def false_per_1000(self) -> float:
        return 1000.0 * self.false_employee_days / max(self.employee_days, 1)

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def median_minutes_to_detect(self) -> float | None:
        times = [r.minutes_to_detect for r in self.scenarios if r.minutes_to_detect is not None]
        return statistics.median(times) if times else None

    @property
    def median_minutes_from_first_data_out(self) -> float | None:
        times = [
            max(0.0, r.minutes_from_first_data_out)
            for r in self.scenarios
            if r.detected and r.minutes_from_first_data_out is not None
        ]
        return statistics.median(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recall": round(self.recall, 4),
            "scenarios": len(self.scenarios),
            "detected": sum(r.detected for r in self.scenarios),
            "by_kind": {
                k: {"detected": d, "total": t} for k, (d, t) in sorted(self.by_kind.items())
            },
            "missed": [f"{r.kind}:{r.employee_id}" for r in self.scenarios if not r.detected],
            "false_alerted_employee_days": self.false_employee_days,
            "employee_days": self.employee_days,
            "false_per_1000_employee_days": round(self.false_per_1000, 3),
            "alerts": self.alerts,
            "precision": round(self.precision, 4),
            "median_minutes_to_detect": self.median_minutes_to_detect,
            "median_minutes_from_first_data_out": self.median_minutes_from_first_data_out,
            "benign_alerted": self.benign_alerted,
        }


def evaluate(
    labels: Mapping[str, Any],
    actions: Iterable[Mapping[str, Any]],
    data_out_times: Mapping[str, float] | None = None,
) -> Evaluation:
    """Score actions against labels.

    ``data_out_times`` maps the event ids of data-out actions to their times;
    with it, time to detect is also measured from each scenario's first
    data-out action.
    """
    alerts: dict[str, list[tuple[float, str]]] = {}
    n_alerts = 0
    for a in actions:
        if a.get("type") != "alert":
            continue
        n_alerts += 1
        alerts.setdefault(a["employee_id"], []).append((_ts(a["event_time"]), a["severity"]))
    for lst in alerts.values():
        lst.sort()

    windows: dict[str, list[tuple[float, float]]] = {}
    results: list[ScenarioResult] = []
    by_kind: dict[str, tuple[int, int]] = {}
    for sc in labels.get("scenarios", []):
        start, end = _ts(sc["start"]), _ts(sc["end"]) + GRACE_SECONDS
        emp = sc["employee_id"]
        windows.setdefault(emp, []).append((start, end))
        hit = next(((t, sev) for t, sev in alerts.get(emp, []) if start <= t <= end), None)
        from_out = None
        if hit is not None and data_out_times is not None:
            outs = [data_out_times[e] for e in sc.get("event_ids", []) if e in data_out_times]
            if outs:
                from_out = (hit[0] - min(outs)) / 60.0
        results.append(
            ScenarioResult(
                sc["id"], sc["kind"], emp, hit is not None,
                (hit[0] - start) / 60.0 if hit else None, hit[1] if hit else None, from_out,
            )
        )
        found, total = by_kind.get(sc["kind"], (0, 0))
        by_kind[sc["kind"]] = (found + (hit is not None), total + 1)

    true_alerts = 0
    false_days: set[tuple[str, int]] = set()
    for emp, lst in alerts.items():
        for t, _sev in lst:
            if any(lo <= t <= hi for lo, hi in windows.get(emp, [])):
                true_alerts += 1
            else:
                false_days.add((emp, int(t // 86400)))

    benign: dict[str, list[str]] = {}
    for case in labels.get("benign", []):
        start, end = _ts(case["start"]), _ts(case["end"])
        emp = case["employee_id"]
        if any(start <= t <= end for t, _ in alerts.get(emp, [])) and emp not in windows:
            benign.setdefault(case["kind"], []).append(emp)

    employee_days = int(labels.get("employees", 0)) * int(labels.get("days", 0))
    return Evaluation(results, benign, len(false_days), employee_days, n_alerts, true_alerts,
                      by_kind)
