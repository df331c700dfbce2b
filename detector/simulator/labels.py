"""Ground truth in the labels.json shape evaluation tools read."""

from __future__ import annotations

from typing import Any

from detector.simulator.casting import Case
from detector.simulator.config import SimConfig
from detector.simulator.geography import format_instant
from detector.simulator.wire import Renderer


def build_labels(config: SimConfig, start_us: int, end_us: int, cases: list[Case],
                 renderer: Renderer, notes: list[str]) -> dict[str, Any]:
    notes = list(notes)
    malicious: list[tuple[int, Case]] = []
    for case in cases:
        if not case.malicious:
            continue
        times = renderer.case_times[case.tag]
        if not times:
            notes.append(f"{case.kind} for {case.emp.employee_id} produced no events in the "
                         "period and was dropped")
            continue
        malicious.append((min(times), case))
    malicious.sort(key=lambda x: (x[0], x[1].tag))
    scenarios = []
    for i, (_, case) in enumerate(malicious, start=1):
        times = renderer.case_times[case.tag]
        scenarios.append({
            "id": f"scn-{i:04d}",
            "kind": case.kind,
            "employee_id": case.emp.employee_id,
            "malicious": True,
            "start": format_instant(min(times)),
            "end": format_instant(max(times)),
            "event_ids": renderer.case_ids[case.tag],
            "description": case.description,
        })
    benign_cases = sorted((c for c in cases if not c.malicious and c.window is not None),
                          key=lambda c: (c.window or (0, 0))[0])
    benign = []
    for i, case in enumerate(benign_cases, start=1):
        assert case.window is not None
        benign.append({
            "id": f"bng-{i:04d}",
            "kind": case.kind,
            "employee_id": case.emp.employee_id,
            "malicious": False,
            "start": format_instant(case.window[0] - case.window[0] % 1_000_000),
            "end": format_instant(case.window[1] - case.window[1] % 1_000_000),
            "description": case.description,
        })
    return {
        "format": 1,
        "seed": config.seed,
        "start": format_instant(start_us),
        "end": format_instant(end_us),
        "days": config.days,
        "employees": config.employees,
        "scenarios": scenarios,
        "benign": benign,
        "malformed": renderer.malformed,
        "notes": notes,
    }
