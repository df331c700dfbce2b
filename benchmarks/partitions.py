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


def partitions(seeds: tuple[int, ...], employees: int = 400, days: int = 42,
               configs: tuple[tuple[bool, int], ...] | None = None,
               reference: dict[tuple[bool, int], set[tuple[str, str, str, str]]] | None = None,
               ) -> dict[str, Any]:
    """Each (shared, partitions) of ``configs`` (default: both modes at every count);
    alerts are compared with the first count run in each mode, or with ``reference``."""
    from benchmarks.__main__ import data_out_times

    rows: list[dict[str, Any]] = []
    configs = configs or tuple((sh, n) for sh in (False, True) for n in PARTITION_COUNTS)
    ref: dict[tuple[bool, int], set[tuple[str, str, str, str]]] = dict(reference or {})
    keys_out: dict[tuple[bool, int], set[tuple[str, str, str, str]]] = {}
    for shared in (False, True):
        base = Settings()
        settings = dataclasses.replace(
            base, scoring=dataclasses.replace(base.scoring, shared_peers=shared))
        for n in [n for sh, n in configs if sh == shared]:
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
                keys = {(str(seed), *_key(a)) for a in alerts}
                keys_out.setdefault((shared, n), set()).update(keys)
                ref.setdefault((shared, seed), keys)
                acc["differ"] += len(keys ^ ref[(shared, seed)])
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
            f"{', '.join(map(str, seeds))}", "rows": rows, "keys": keys_out}


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
    if res.get("cost"):
        out += render_cost(res["cost"])
    return out


def run(quick: bool) -> dict[str, Any]:
    """The ``partitions`` section: the table by partition count and the table's cost."""
    from benchmarks.__main__ import SEEDS

    size = (60, 21) if quick else (400, 42)
    res = partitions(SEEDS[:1] if quick else SEEDS, *size)
    res["cost"] = cost(SEEDS[0], *size)
    return res


def render_cost(c: dict[str, Any]) -> list[str]:
    per = c["bytes_per_employee_day"]
    return [
        "",
        f"Cost of the shared table on {c['world']}: {c['groups']} groups (the population "
        f"included); folded state {c['group_bytes_mean'] / 1024:.1f} KiB per group on "
        f"average, {c['group_bytes_max'] / 1024:.1f} KiB at most (bounded: six quantities, "
        "a few hundred bins each, 168 hour counts; plus the ids of members seen in the last "
        f"30 days, {c['members_tracked']} here). Contributions (a topic's records, keyed by "
        f"day, group and member): {c['records_per_day']:.0f} a day, "
        f"{c['bytes_per_day'] / 1024:.0f} KiB a day, the largest {c['largest_record']} bytes; "
        f"{per:.0f} bytes per employee and day. At that rate 10,000 employees would make "
        f"{per * 1e4 / 2**20:.1f} MiB a day and 100,000 employees {per * 1e5 / 2**20:.0f} MiB "
        "a day (scaled from the measured rate, not measured at that size).",
        "",
    ]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    seeds = tuple(int(a) for a in argv if a.isdigit()) or (9101, 9202, 9303)
    res = partitions(seeds[:1] if quick else seeds, *((60, 21) if quick else (400, 42)))
    print("\n".join(render_partitions(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def cost(seed: int = 9101, employees: int = 400, days: int = 42) -> dict[str, Any]:
    """What the shared table costs on a benchmark world: its size per group, the
    contributions (records a topic would carry) per day and their bytes."""
    from models.peer_table import Contribution, PeerTable

    path = world(employees, days, seed)
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    base = Settings()
    settings = dataclasses.replace(base, scoring=dataclasses.replace(base.scoring,
                                                                     shared_peers=True))
    folded = {"records": 0, "bytes": 0, "days": 0, "largest": 0}
    original = PeerTable._fold

    def counting_fold(self: PeerTable, day: int,
                      by_group: dict[str, dict[str, Contribution]]) -> None:
        folded["days"] += 1
        for members in by_group.values():
            for c in members.values():
                n = len(c.to_wire()) + 40  # value and a key of day, group and member
                folded["records"] += 1
                folded["bytes"] += n
                folded["largest"] = max(folded["largest"], n)
        original(self, day, by_group)

    PeerTable._fold = counting_fold  # type: ignore[method-assign]
    try:
        _, engines = replay(settings, iter_lines(str(path / "events.jsonl")), directory,
                            lambda _: None, clock=lambda: 0.0)
    finally:
        PeerTable._fold = original  # type: ignore[method-assign]
    table = engines[0].peer_table
    assert table is not None
    sizes = [g.nbytes() for g in table.groups.values()]
    per_emp_day = folded["bytes"] / max(folded["days"], 1) / employees
    return {
        "world": f"{employees} employees x {days} days, seed {seed}",
        "groups": len(sizes),
        "group_bytes_max": max(sizes),
        "group_bytes_mean": sum(sizes) / len(sizes),
        "records_per_day": folded["records"] / max(folded["days"], 1),
        "bytes_per_day": folded["bytes"] / max(folded["days"], 1),
        "largest_record": folded["largest"],
        "bytes_per_employee_day": per_emp_day,
        "members_tracked": sum(len(m) for m in table.members.values()),
    }
