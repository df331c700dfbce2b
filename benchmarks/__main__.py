"""``python -m benchmarks [detection|speed|state|stream|all] [--quick]``: writes docs/benchmarks.md.

Worlds come from the simulator with seeds that no test uses.  Figures are
measured, never assumed; each floor from the issues is printed beside them.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import ROOT, labels, machine, run_replay, world
from benchmarks.stream import stream
from detector.evaluation import evaluate
from detector.events import DATA_OUT_ACTIONS
from detector.jsonl import iter_lines

SEEDS = (9101, 9202, 9303)
_DATA_OUT_MARKERS = tuple(f'"{a}"'.encode() for a in sorted(DATA_OUT_ACTIONS))
DOC = ROOT / "docs" / "benchmarks.md"


def detection(quick: bool) -> dict[str, Any]:
    employees, days = (60, 21) if quick else (400, 42)
    seeds = SEEDS[:1] if quick else SEEDS
    runs = []
    for seed in seeds:
        path = world(employees, days, seed)
        summary, _, actions = run_replay(path)
        truth = labels(path)
        ev = evaluate(truth, actions, data_out_times(path, truth))
        runs.append((seed, ev, summary))
        print(f"  seed {seed}: recall {ev.recall:.3f}, false/1000 {ev.false_per_1000:.2f}, "
              f"ttd {ev.median_minutes_to_detect}", file=sys.stderr)
    scen = sum(len(e.scenarios) for _, e, _ in runs)
    found = sum(sum(r.detected for r in e.scenarios) for _, e, _ in runs)
    false_days = sum(e.false_employee_days for _, e, _ in runs)
    emp_days = sum(e.employee_days for _, e, _ in runs)
    alerts = sum(e.alerts for _, e, _ in runs)
    true_alerts = sum(e.true_alerts for _, e, _ in runs)
    ttd = [r.minutes_to_detect for _, e, _ in runs for r in e.scenarios
           if r.minutes_to_detect is not None]
    ttd_out = [max(0.0, r.minutes_from_first_data_out) for _, e, _ in runs for r in e.scenarios
               if r.minutes_from_first_data_out is not None]
    by_kind: dict[str, list[int]] = {}
    for _, e, _ in runs:
        for k, (d, t) in e.by_kind.items():
            acc = by_kind.setdefault(k, [0, 0])
            acc[0] += d
            acc[1] += t
    benign: dict[str, int] = {}
    for _, e, _ in runs:
        for k, emps in e.benign_alerted.items():
            benign[k] = benign.get(k, 0) + len(emps)
    return {
        "world": f"{employees} employees x {days} days, seeds {', '.join(map(str, seeds))}",
        "scenarios": scen,
        "recall": found / max(scen, 1),
        "false_per_1000": 1000 * false_days / max(emp_days, 1),
        "false_days": false_days,
        "employee_days": emp_days,
        "precision": true_alerts / alerts if alerts else 1.0,
        "median_ttd_min": statistics.median(ttd) if ttd else None,
        "median_ttd_data_out_min": statistics.median(ttd_out) if ttd_out else None,
        "by_kind": by_kind,
        "benign_alerted": benign,
        "per_seed": [(s, e.recall, e.false_per_1000) for s, e, _ in runs],
    }


def data_out_times(path: Path, truth: dict[str, Any]) -> dict[str, float]:
    """Times of the labelled malicious events that moved data out."""
    wanted = {e for sc in truth.get("scenarios", []) for e in sc.get("event_ids", [])}
    out: dict[str, float] = {}
    for _, raw in iter_lines(str(path / "events.jsonl")):
        if not any(marker in raw for marker in _DATA_OUT_MARKERS):
            continue  # cheap pre-filter; the parsed action decides below
        ev = orjson.loads(raw)
        if ev.get("event_id") in wanted and ev.get("action") in DATA_OUT_ACTIONS:
            out[ev["event_id"]] = datetime.fromisoformat(ev["timestamp"]).timestamp()
    return out


def speed(quick: bool) -> dict[str, Any]:
    path = world(60, 14, SEEDS[0]) if quick else world(400, 42, SEEDS[0])
    events = path / "events.jsonl"
    t0 = time.perf_counter()
    n = 0
    for _, raw in iter_lines(str(events)):
        orjson.loads(raw)
        n += 1
    parse_rate = n / (time.perf_counter() - t0)
    best = 0.0
    for _ in range(1 if quick else 3):
        summary, _, _ = run_replay(path)
        best = max(best, summary.events_per_second)
    return {"events": n, "parse_only": parse_rate, "replay": best}


def state(quick: bool) -> dict[str, Any]:
    """Checkpoint bytes per employee after a simulated day, and process RSS."""
    out: dict[str, Any] = {}
    for employees in ((500, 2000) if quick else (10_000, 100_000)):
        path = world(employees, 1, SEEDS[1])
        gc.collect()
        summary, engine, _ = run_replay(path)
        emps = engine.employees
        pickled = sum(len(pickle.dumps(b, protocol=5)) for b in emps.values())
        out[employees] = {
            "tracked": len(emps),
            "pickled_per_employee": pickled / max(len(emps), 1),
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "events": summary.events,
        }
        del engine, emps
        gc.collect()
    return out


def render(results: dict[str, Any]) -> str:
    lines = ["# Benchmarks", "", f"Machine: {machine()}.", "",
             "Regenerate with `python -m benchmarks all` (about ten minutes).", ""]
    det = results.get("detection")
    if det:
        ok_recall = det["recall"] >= 0.95
        ok_false = det["false_per_1000"] <= 1.0
        ok_ttd = det["median_ttd_min"] is not None and det["median_ttd_min"] <= 5
        lines += [
            "## Detection quality", "",
            f"Simulated worlds: {det['world']} ({det['scenarios']} insider scenarios).", "",
            "| measure | measured | floor | met |", "|---|---|---|---|",
            f"| scenario recall | {det['recall']:.1%} | >= 95% | {_yes(ok_recall)} |",
            f"| false-alerted employee-days per 1,000 | {det['false_per_1000']:.2f} "
            f"({det['false_days']} of {det['employee_days']:,}) | <= 1 | {_yes(ok_false)} |",
            f"| alert precision | {det['precision']:.1%} | – | – |",
            f"| median minutes from first malicious event to first alert | "
            f"{_fmt(det['median_ttd_min'])} | <= 5 | {_yes(ok_ttd)} |",
            f"| median minutes from first malicious *data-out* action to first alert | "
            f"{_fmt(det['median_ttd_data_out_min'])} | – | – |", "",
            "| scenario | detected |", "|---|---|",
        ]
        for kind, (d, t) in sorted(det["by_kind"].items()):
            lines.append(f"| {kind} | {d} / {t} |")
        lines += ["", "Benign hard cases alerted: " + (
            ", ".join(f"{k} {v}" for k, v in sorted(det["benign_alerted"].items())) or "none"),
            ""]
    sp = results.get("speed")
    if sp:
        lines += [
            "## Replay speed (one core)", "",
            "| measure | events/s | floor | met |", "|---|---|---|---|",
            f"| read + orjson parse only (ceiling) | {sp['parse_only']:,.0f} | – | – |",
            f"| full replay (parse, validate, score, decide, learn) | {sp['replay']:,.0f} | "
            f">= 50,000 | {_yes(sp['replay'] >= 50_000)} |", "",
            f"Over {sp['events']:,} events; best of the runs.", "",
        ]
    st = results.get("state")
    if st:
        lines += ["## State per employee", "",
                  "| employees | events replayed | pickled state / employee | floor | met "
                  "| process max RSS |",
                  "|---|---|---|---|---|---|"]
        for n, row in st.items():
            ok = row["pickled_per_employee"] <= 4096
            lines.append(f"| {n:,} | {row['events']:,} | {row['pickled_per_employee']:,.0f} B | "
                         f"<= 4 KB | {_yes(ok)} | {row['max_rss_mib']:,.0f} MiB |")
        lines += ["", "Pickled state is what a checkpoint of one employee's baseline holds "
                  "after a simulated day. The RSS column is the whole benchmark process so far "
                  "(directory, baselines, peer groups, the replayed actions, the interpreter).",
                  ""]
    sm = results.get("stream")
    if sm:
        lines += render_stream(sm)
    return "\n".join(lines) + "\n"


def render_stream(sm: dict[str, Any]) -> list[str]:
    lat = sm["latency"]
    at_rate = lat["achieved_rate"] >= 0.95 * lat["target_rate"]
    ok_rate = sm["e2e"] >= 25_000
    ok_ratio = sm["ratio"] >= 0.60
    ok_p99 = lat["p99_ms"] <= 250 and at_rate
    lines = [
        "## Streaming through a broker", "",
        f"{sm['events']:,} simulated events ({sm['world']}) keyed by employee on a "
        f"{sm['partitions']}-partition topic of Tansu (in memory, on the same machine), "
        f"read by one detector process ({sm['delivery']}, a checkpoint every "
        f"{sm['commit_interval_ms']} ms).", "",
        "| measure | measured | floor | met |", "|---|---|---|---|",
        f"| raw consume (kafka-python, the service's fetch options, no processing) | "
        f"{sm['raw']:,.0f} events/s | – | – |",
        f"| end to end, one detector process (parse, score, decide, learn, commit) | "
        f"{sm['e2e']:,.0f} events/s | >= 25,000 events/s | {_yes(ok_rate)} |",
        f"| end to end / raw consume | {sm['ratio']:.0%} | >= 60% | {_yes(ok_ratio)} |",
        f"| end to end including startup ({sm['startup_s']:.1f} s: directory, group join, "
        f"restore) | {sm['e2e_total']:,.0f} events/s | – | – |",
        f"| produce-to-commit latency p50 | {lat['p50_ms']:,.0f} ms | – | – |",
        f"| produce-to-commit latency p95 | {lat['p95_ms']:,.0f} ms | – | – |",
        f"| produce-to-commit latency p99 | {lat['p99_ms']:,.0f} ms | <= 250 ms at "
        f"{lat['target_rate']:,.0f} events/s | {_yes(ok_p99)} |",
        f"| produce-to-commit latency max | {lat['max_ms']:,.0f} ms | – | – |", "",
        f"The raw rate runs from the first records read to the last; the detector's from its "
        f"first processed batch to the commit of the checkpoint covering the last event. "
        f"Latency is measured over {lat['events']:,} events sent at "
        f"{lat['achieved_rate']:,.0f} events/s (asked: {lat['target_rate']:,.0f}) for "
        f"{lat['seconds']:.0f} s by a producer thread in the same process, from `send` to the "
        f"commit of the first checkpoint covering the event's offset, when its actions "
        f"become visible to read-committed readers.",
    ]
    missed = [what for what, ok in (
        ("end-to-end rate below 25,000 events/s", ok_rate),
        ("end-to-end rate below 60% of the raw consume rate", ok_ratio),
        ("p99 latency above 250 ms" if at_rate else
         f"the latency load reached {lat['achieved_rate']:,.0f} events/s, not the "
         f"{lat['target_rate']:,.0f} the latency floor is set at", ok_p99),
    ) if not ok]
    if missed:
        lines += ["", "Floors missed: " + "; ".join(missed) + "."]
    return [*lines, ""]


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


RUNS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "detection": detection, "speed": speed, "state": state, "stream": stream,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("what", nargs="?", default="all", choices=[*RUNS, "all"])
    p.add_argument("--quick", action="store_true", help="tiny inputs (used by the smoke test)")
    p.add_argument("--out", type=Path, default=DOC)
    args = p.parse_args(argv)
    todo = list(RUNS) if args.what == "all" else [args.what]
    results: dict[str, Any] = {}
    for name in todo:
        print(f"{name} ...", file=sys.stderr)
        results[name] = RUNS[name](args.quick)
    text = render(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
