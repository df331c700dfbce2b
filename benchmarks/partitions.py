"""Decisions by partition count: ``python -m benchmarks partitions [--quick]``.

Replays each benchmark world at 1, 6, 12 and 48 partitions, with peer groups
learned per partition and with the shared peer table, and evaluates each run
against the labels (recall, false-alerted employee-days, precision, rows a
freeze at the first alert would have saved).  It also counts the alerts whose
employee, event and severity differ from the one-partition run's.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import orjson

from benchmarks import baselines
from benchmarks.common import labels, world
from detector.analysis.evaluation import evaluate
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.wire.jsonl import iter_lines

PARTITION_COUNTS = (1, 6, 12, 48)


def _run(path: Any, settings: Settings, partitions: int) -> tuple[list[dict[str, Any]], float]:
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    lines: list[bytes] = []
    t0 = time.perf_counter()
    replay(settings, iter_lines(str(path / "events.jsonl")), directory, lines.append,
           clock=lambda: 0.0, partitions=partitions)
    return [orjson.loads(x) for x in lines], time.perf_counter() - t0


def _key(a: dict[str, Any]) -> tuple[str, str, str]:
    return (a["employee_id"], a.get("event_time", ""), a.get("severity", ""))


def partitions(seeds: tuple[int, ...], employees: int = 400, days: int = 42) -> dict[str, Any]:
    from benchmarks.__main__ import data_out_times

    rows: list[dict[str, Any]] = []
    for shared in (False, True):
        base = Settings()
        settings = dataclasses.replace(
            base, scoring=dataclasses.replace(base.scoring, shared_peers=shared))
        reference: dict[int, set[tuple[str, str, str]]] = {}
        for n in PARTITION_COUNTS:
            acc = {"scen": 0, "found": 0, "false_days": 0, "emp_days": 0, "alerts": 0,
                   "true_alerts": 0, "saved": 0, "moved": 0, "differ": 0, "seconds": 0.0}
            for seed in seeds:
                path = world(employees, days, seed)
                truth = labels(path)
                actions, secs = _run(path, settings, n)
                alerts = [a for a in actions if a.get("type") == "alert"]
                ev = evaluate(truth, alerts, data_out_times(path, truth))
                saved, moved = baselines.rows_saved(
                    truth, alerts, baselines.load_world(path).out_rows)
                keys = {_key(a) for a in alerts}
                if n == 1:
                    reference[seed] = keys
                acc["differ"] += len(keys ^ reference[seed])
                acc["scen"] += len(ev.scenarios)
                acc["found"] += sum(r.detected for r in ev.scenarios)
                acc["false_days"] += ev.false_employee_days
                acc["emp_days"] += ev.employee_days
                acc["alerts"] += ev.alerts
                acc["true_alerts"] += ev.true_alerts
                acc["saved"] += saved
                acc["moved"] += moved
                acc["seconds"] += secs
            row = {"shared": shared, "partitions": n, **acc}
            print(f"  shared={shared} N={n}: found {acc['found']}/{acc['scen']}, "
                  f"false days {acc['false_days']}, differ {acc['differ']}, "
                  f"{acc['seconds']:.1f} s", file=sys.stderr)
            rows.append(row)
    return {"world": f"{employees} employees x {days} days, seeds "
            f"{', '.join(map(str, seeds))}", "rows": rows}


def render_partitions(res: dict[str, Any]) -> list[str]:
    out = [
        "## Decisions by partition count",
        "",
        f"Replay of {res['world']} at each partition count (`replay --partitions N`), "
        "with peer groups learned per partition (`scoring.shared_peers = false`) and "
        "with the shared peer table (`true`). *Differ*: alerts (employee, event time, "
        "severity) present in one run and not in the one-partition run of the same mode.",
        "",
        "| peer groups | partitions | scenarios found | recall | false-alerted employee-days "
        "(per 1,000) | precision | rows saved | alerts that differ | replay seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        recall = r["found"] / max(r["scen"], 1)
        per = 1000 * r["false_days"] / max(r["emp_days"], 1)
        prec = r["true_alerts"] / r["alerts"] if r["alerts"] else 1.0
        saved = r["saved"] / r["moved"] if r["moved"] else 0.0
        out.append(
            f"| {'shared' if r['shared'] else 'per partition'} | {r['partitions']} | "
            f"{r['found']}/{r['scen']} | {recall:.3f} | {r['false_days']} ({per:.2f}) | "
            f"{prec:.3f} | {100 * saved:.0f}% | {r['differ']} | {r['seconds']:.1f} |")
    return out


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    seeds = tuple(int(a) for a in argv if a.isdigit()) or (9101, 9202, 9303)
    res = partitions(seeds[:1] if quick else seeds, *((60, 21) if quick else (400, 42)))
    print("\n".join(render_partitions(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
