"""``python -m benchmarks [detection|speed|state|stream|scaling|profile|all] [--quick]``:
writes docs/benchmarks.md.  ``python -m benchmarks fingerprint --write|--check PATH``
records or compares the decisions on the benchmark's and the tests' worlds
(``benchmarks.fingerprint``).  ``python -m benchmarks soak [--minutes 30] [--rate 2000]``
runs the detector under traffic and faults and writes its section of
docs/reliability.md (``benchmarks.soak``).

Worlds come from the simulator with seeds that no test uses.  Figures are
measured, never assumed; each floor from the issues is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks import baselines, plots
from benchmarks.baselines import METHODS, OURS, Tally
from benchmarks.common import ROOT, labels, machine, run_replay, world
from benchmarks.partitions import render_partitions
from benchmarks.partitions import run as partitions_run
from benchmarks.profile import profile, render_profile
from benchmarks.scaling import render_scaling, scaling
from benchmarks.speed import floors as speed_floors
from benchmarks.speed import keep_notes, render_speed, speed
from benchmarks.stream import stream
from detector.analysis.evaluation import GRACE_SECONDS, evaluate
from detector.wire.events import DATA_OUT_ACTIONS
from detector.wire.jsonl import iter_lines

SEEDS = (9101, 9202, 9303)
_DATA_OUT_MARKERS = tuple(f'"{a}"'.encode() for a in sorted(DATA_OUT_ACTIONS))
DOC = ROOT / "docs" / "benchmarks.md"
IF_TRAIN_DAYS = 21


def detection(quick: bool) -> dict[str, Any]:
    employees, days = (60, 21) if quick else (400, 42)
    seeds = SEEDS[:1] if quick else SEEDS
    # IsolationForest trains on the first three weeks; a short world keeps a third to score.
    train_days = min(IF_TRAIN_DAYS, (2 * days) // 3)
    runs = []
    tallies = {m.name: Tally() for m in METHODS}
    sweeps: dict[str, dict[float, list[float]]] = {m.name: {} for m in METHODS}
    untestable = 0
    for seed in seeds:
        path = world(employees, days, seed)
        summary, _, actions = run_replay(path)
        truth = labels(path)
        times = data_out_times(path, truth)
        ev = evaluate(truth, actions, times)
        runs.append((seed, ev, summary))
        print(f"  seed {seed}: recall {ev.recall:.3f}, false/1000 {ev.false_per_1000:.2f}, "
              f"ttd {ev.median_minutes_to_detect}", file=sys.stderr)
        untestable += compare(path, truth, actions, times, train_days, seed, tallies, sweeps)
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
    # Where the minutes go: a scenario's own lead-in (a login, searches) before
    # its first data-out action cannot be alerted on by data-out signals.
    out_by_kind: dict[str, list[float]] = {}
    for _, e, _ in runs:
        for r in e.scenarios:
            if r.minutes_from_first_data_out is not None:
                out_by_kind.setdefault(r.kind, []).append(max(0.0, r.minutes_from_first_data_out))
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
    changed = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("INSIDER_")]
    return {
        "world": f"{employees} employees x {days} days, seeds {', '.join(map(str, seeds))}"
                 + (f"; default settings but {', '.join(changed)}" if changed else ""),
        "scenarios": scen,
        "recall": found / max(scen, 1),
        "false_per_1000": 1000 * false_days / max(emp_days, 1),
        "false_days": false_days,
        "employee_days": emp_days,
        "precision": true_alerts / alerts if alerts else 1.0,
        "median_ttd_min": statistics.median(ttd) if ttd else None,
        "median_ttd_data_out_min": statistics.median(ttd_out) if ttd_out else None,
        "by_kind": by_kind,
        "ttd_data_out_by_kind": {k: statistics.median(v) for k, v in out_by_kind.items()},
        "benign_alerted": benign,
        "per_seed": [(s, e.recall, e.false_per_1000) for s, e, _ in runs],
        "methods": {name: t.summary() for name, t in tallies.items()},
        "sweeps": {m.name: [
            {"value": v, "default": v == m.default, "alerts_per_day": a / max(d, 1),
             "recall": f / max(n, 1)}
            for v, (a, f, n, d) in sorted(sweeps[m.name].items())] for m in METHODS},
        "if_train_days": train_days,
        "if_untestable": untestable,
    }


def compare(path: Path, truth: dict[str, Any], actions: list[dict[str, Any]],
            times: dict[str, float], train_days: int, seed: int,
            tallies: dict[str, Tally], sweeps: dict[str, dict[float, list[float]]]) -> int:
    """Run the comparison methods on one world and add every method's figures, ours too.

    Returns how many scenarios ended (with evaluate's grace) before the
    IsolationForest's scoring period, which no daily batch trained on those
    days can flag.
    """
    t0 = time.perf_counter()
    w = baselines.load_world(path)
    runs = baselines.baseline_runs(w, train_days, seed)
    ours = [a for a in actions if a.get("type") == "alert"]
    # One replay serves every threshold of ours: its alerts carry their score.
    runs[OURS.name] = lambda v: [a for a in ours if a.get("score", 0) >= v]
    days = int(truth.get("days", 0))
    for m in METHODS:
        live = baselines.live_days(m.name, days, train_days)
        for v in m.sweep:
            alerts = runs[m.name](v)
            ev = evaluate(truth, alerts, times)
            acc = sweeps[m.name].setdefault(v, [0, 0, 0, 0.0])
            acc[0] += len(alerts)
            acc[1] += sum(r.detected for r in ev.scenarios)
            acc[2] += len(ev.scenarios)
            acc[3] += live
            if v == m.default:
                saved = baselines.rows_saved(truth, alerts, w.out_rows)
                tallies[m.name].add(ev, saved, days, live)
                if m.name == OURS.name:
                    tallies[m.name].add_saved_by_kind(
                        baselines.rows_saved_by_kind(truth, alerts, w.out_rows))
    print(f"  seed {seed}: comparison methods and sweeps in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    scoring_from = (w.first_day + train_days) * 86400.0
    return sum(datetime.fromisoformat(sc["end"]).timestamp() + GRACE_SECONDS < scoring_from
               for sc in truth.get("scenarios", []))


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


STATE_REPLAYED = (1_000, 10_000, 100_000)
# (employees held, world whose learned employees are cloned to reach it)
STATE_FILLED = (1_000_000, 10_000)
STATE_FLOOR = 4096
# The fill runs only when the larger replays' memory per employee says it fits in this
# share of the memory available.
MEMORY_SHARE = 0.8


def state(quick: bool) -> dict[str, Any]:
    """Checkpoint bytes and resident memory per employee, each size in a fresh process.

    Sizes up to 100,000 replay one simulated day.  A million comes from cloning the
    employees learned in one day of a smaller world: a simulated day of a million
    employees is some 85 million events, tens of minutes of replay on one core.
    """
    replayed, (fill_to, source) = ((200, 1_000), (10_000, 1_000)) if quick else (
        STATE_REPLAYED, STATE_FILLED)
    rows: list[dict[str, Any]] = []
    for n in replayed:
        row = _state_probe(world(n, 1, SEEDS[1]), 0)
        rows.append({"world": n, "filled": False, **row})
        print(f"  {n:,} employees: {row['pickled_per_employee']:,.0f} B pickled, "
              f"{row['max_rss_mib']:,.0f} MiB max RSS", file=sys.stderr)
    # The largest replay's memory per employee is the least blurred by fixed costs.
    largest = max(rows, key=lambda r: r["employees"])
    need_mib = 1.25 * fill_to * largest["resident_per_employee"] / 2**20
    free_mib = _available_mib()
    if free_mib is not None and need_mib > MEMORY_SHARE * free_mib:
        rows.append({"world": source, "filled": True, "skipped": True, "employees": fill_to,
                     "need_mib": need_mib, "free_mib": free_mib})
        print(f"  {fill_to:,} employees: skipped, needs about {need_mib:,.0f} MiB",
              file=sys.stderr)
    else:
        row = _state_probe(world(source, 1, SEEDS[1]), fill_to)
        rows.append({"world": source, "filled": True, **row})
        print(f"  {fill_to:,} employees (cloned): {row['max_rss_mib']:,.0f} MiB max RSS",
              file=sys.stderr)
    return {"rows": rows}


_PROBE = ("import sys; from pathlib import Path; import orjson; "
          "from benchmarks.common import state_probe; "
          "sys.stdout.buffer.write(orjson.dumps(state_probe(Path(sys.argv[1]), int(sys.argv[2]))))")


def _state_probe(path: Path, fill_to: int) -> dict[str, Any]:
    """``common.state_probe`` in a fresh interpreter that imports only what it needs."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(fill_to)], cwd=ROOT,
                          env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"state probe of {path.name} failed:\n"
                           + done.stderr.decode(errors="replace")[-3000:])
    return orjson.loads(done.stdout)  # type: ignore[no-any-return]


def _available_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def render(results: dict[str, Any], timings: dict[str, float] | None = None,
           command: str = "all") -> str:
    lines = ["# Benchmarks", "", f"Machine: {machine()}.", "",
             _regenerate(timings or {}, command), ""]
    floors = _floors(results)
    if floors:
        lines += ["## Floors", "", "| floor | measured | met |", "|---|---|---|",
                  *(f"| {what} | {got} | {_yes(ok)} |" for what, got, ok in floors), ""]
    det = results.get("detection")
    if det:
        ok_recall = det["recall"] >= 0.97
        ok_false = det["false_per_1000"] <= 0.5
        ok_ttd = det["median_ttd_min"] is not None and det["median_ttd_min"] <= 5
        ours = det["methods"][OURS.name]
        saved = ours["rows_saved"]
        ok_saved = saved is not None and saved >= 0.9
        lines += [
            "## Detection quality", "",
            f"Simulated worlds: {det['world']} ({det['scenarios']} insider scenarios).", "",
            "| measure | measured | floor | met |", "|---|---|---|---|",
            f"| scenario recall | {det['recall']:.1%} | >= 97% | {_yes(ok_recall)} |",
            f"| false-alerted employee-days per 1,000 | {det['false_per_1000']:.2f} "
            f"({det['false_days']} of {det['employee_days']:,}) | <= 0.5 | {_yes(ok_false)} |",
            f"| rows saved by a freeze at the first alert | {_pct(saved)} | >= 90% "
            f"| {_yes(ok_saved)} |",
            f"| alert precision | {det['precision']:.1%} | – | – |",
            f"| median minutes from first malicious event to first alert | "
            f"{_fmt(det['median_ttd_min'])} | <= 5 | {_yes(ok_ttd)} |",
            f"| median minutes from first malicious *data-out* action to first alert | "
            f"{_fmt(det['median_ttd_data_out_min'])} | – | – |", "",
            "| scenario | detected | median minutes to detect | from first data-out "
            "| rows saved |",
            "|---|---|---|---|---|",
        ]
        for kind, (d, t) in sorted(det["by_kind"].items()):
            minutes = ours.get("median_ttd_by_kind", {}).get(kind)
            from_out = det.get("ttd_data_out_by_kind", {}).get(kind)
            kept, moved = ours.get("saved_by_kind", {}).get(kind, (0, 0))
            share = _pct(kept / moved) if moved else "– (no data out)"
            lines.append(f"| {kind} | {d} / {t} | {_fmt(minutes)} | {_fmt(from_out)} "
                         f"| {share} |")
        lines += ["", "*From first data-out* runs from the scenario's first data-out action "
                  "instead of its first event; the difference is the lead-in (a login, "
                  "searches, views) that no data-out signal can see.", ""]
        lines += ["Benign hard cases alerted: " + (
            ", ".join(f"{k} {v}" for k, v in sorted(det["benign_alerted"].items())) or "none"),
            ""]
        if det.get("methods"):
            lines += render_comparison(det)
    sp = results.get("speed")
    if sp:
        lines += render_speed(sp)
    sections: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
        ("state", render_state), ("stream", render_stream), ("scaling", render_scaling),
        ("profile", render_profile), ("partitions", render_partitions))
    for name, render_section in sections:
        if results.get(name):
            lines += render_section(results[name])
    return "\n".join(lines) + "\n"


def _regenerate(timings: dict[str, float], command: str) -> str:
    """How to rebuild this file and how long this one took: measured, not guessed."""
    took = sum(timings.values())
    parts = ", ".join(f"{name} {_duration(t)}" for name, t in timings.items())
    said = f" This file took {_duration(took)} ({parts})" if timings else ""
    if command == "all":
        return (f"Regenerate with `python -m benchmarks all`.{said}"
                + (" on the machine above, simulated worlds included where they were not "
                   "cached yet in `out/bench`." if timings else ""))
    return (f"Written by `python -m benchmarks {command}`.{said}"
            + ("." if timings else "") + " `python -m benchmarks all` regenerates every section.")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _floors(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Every floor of the sections present: what it asks, what was measured, whether met."""
    out: list[tuple[str, str, bool]] = []
    det = results.get("detection")
    if det:
        ttd = det["median_ttd_min"]
        out += [
            ("scenario recall >= 97%", f"{det['recall']:.1%}", det["recall"] >= 0.97),
            ("false-alerted employee-days <= 0.5 per 1,000", f"{det['false_per_1000']:.2f}",
             det["false_per_1000"] <= 0.5),
            ("median minutes to detect <= 5", _fmt(ttd), ttd is not None and ttd <= 5),
            ("rows saved by a freeze at the first alert >= 90%",
             _pct(det["methods"][OURS.name]["rows_saved"]),
             (det["methods"][OURS.name]["rows_saved"] or 0.0) >= 0.9),
        ]
    sp = results.get("speed")
    if sp:
        out.append(("replay >= 50,000 events/s", f"{sp['replay']:,.0f} events/s",
                    sp["replay"] >= 50_000))
        out += speed_floors(sp)
    st = results.get("state")
    if st:
        sizes = [r for r in st["rows"] if not r.get("skipped")]
        worst = max(r["pickled_per_employee"] for r in sizes)
        out.append(("state <= 4 KB per employee",
                    f"{worst:,.0f} B (largest of {len(sizes)} sizes)", worst <= STATE_FLOOR))
    sm = results.get("stream")
    if sm:
        lat = sm["latency"]
        at_rate = lat["achieved_rate"] >= 0.95 * lat["target_rate"]
        out += [
            ("stream >= 25,000 events/s", f"{sm['e2e']:,.0f} events/s", sm["e2e"] >= 25_000),
            ("stream >= 60% of raw consume", f"{sm['ratio']:.0%}", sm["ratio"] >= 0.60),
            (f"stream p99 <= 250 ms at {lat['target_rate']:,.0f} events/s",
             f"{lat['p99_ms']:,.0f} ms at {lat['achieved_rate']:,.0f} events/s",
             lat["p99_ms"] <= 250 and at_rate),
        ]
    return out


def render_state(st: dict[str, Any]) -> list[str]:
    lines = ["## State per employee", "",
             "| employees held | built from | pickled state / employee | floor | met "
             "| process max RSS | resident / employee |",
             "|---|---|---|---|---|---|---|"]
    for r in st["rows"]:
        if r.get("skipped"):
            lines.append(
                f"| {r['employees']:,} | not run: needs about {r['need_mib'] / 1024:,.1f} GiB, "
                f"{r['free_mib'] / 1024:,.1f} GiB available | – | <= 4 KB | – | – | – |")
            continue
        if r["filled"]:
            built = (f"{r['learned']:,} employees learned in one simulated day "
                     f"({r['events']:,} events), cloned")
        else:
            built = f"one simulated day of {r['world']:,} employees ({r['events']:,} events)"
        ok = r["pickled_per_employee"] <= STATE_FLOOR
        lines.append(
            f"| {r['employees']:,} | {built} | {r['pickled_per_employee']:,.0f} B | <= 4 KB | "
            f"{_yes(ok)} | {r['max_rss_mib']:,.0f} MiB | "
            f"{r['resident_per_employee']:,.0f} B |")
    measured = [r for r in st["rows"] if not r.get("skipped")]
    empty = min(r["empty_rss_mib"] for r in measured)
    real = [r for r in measured if not r["filled"]]
    per_record = max(real, key=lambda r: r["world"])
    lines += [
        "", "Each size runs in a fresh process. *Pickled state* is what a checkpoint writes "
        "for one employee (`Engine.employee_state`: baseline, refused events, analysts' "
        "verdicts, recent event ids). *Process max RSS* is that process's peak resident "
        f"memory: the interpreter and its imports ({empty:,.0f} MiB before anything is "
        "loaded), the directory, the engine and what the replay left behind. *Resident / "
        "employee* is the growth of resident memory from the loaded directory to the engine "
        "holding every employee, divided by the employees held. A clone is a pickle round "
        "trip of a learned employee's state under a new id, as a restore builds it; clones "
        f"have no directory records (the directory took about "
        f"{1024 * 1024 * per_record['directory_mib'] / per_record['world']:,.0f} B a record "
        f"at {per_record['world']:,} employees, and every instance holds all of it).", ""]
    return lines


def render_comparison(det: dict[str, Any]) -> list[str]:
    """Every method on the same worlds, scored by the same ``evaluate()``."""
    methods: dict[str, dict[str, Any]] = det["methods"]
    setting = {m.name: f"{m.parameter} {m.default:g}" for m in METHODS}
    lines = [
        "### Against the methods in use today", "",
        "Four methods that teams run today saw the same events. They could use the "
        "directory's timezone and working hours to tell local time, and nothing else from "
        "HR. None of them read the labels. Each method's alerts were scored by the same "
        "`evaluate()` as ours.", "",
        "| method | setting | recall | false-alerted employee-days per 1,000 | precision "
        "| median minutes to detect | rows saved by a freeze at the first alert "
        "| alerts per day |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in methods.items():
        lines.append(
            f"| {name} | {setting[name]} | {r['recall']:.1%} ({r['detected']} / "
            f"{r['scenarios']}) | {r['false_per_1000']:.2f} | {_pct(r['precision'])} | "
            f"{_fmt(r['median_ttd_min'])} | {_pct(r['rows_saved'])} | "
            f"{r['alerts_per_day']:.2f} |")
    kinds = sorted({k for r in methods.values() for k in r["by_kind"]})
    lines += [
        "",
        "Time to detect runs from each detected scenario's first malicious event, as in the "
        "table above. Alerts per day count every alert, for all employees together. "
        "Alerts per day and false-alerted employee-days are both rates over the days a "
        "method could alert: IsolationForest's start after its training period and "
        f"HalfSpaceTrees' after its {baselines.HST_WARMUP_DAYS}-day warm-up. "
        "*Rows saved* is the share of the insiders' exported rows that a "
        "freeze at the first alert would have stopped. Per scenario, we take the rows of "
        "its labelled data-out actions dated at or after the first alert that `evaluate()` "
        "credits. This counts the action that raised the alert, as an inline block would "
        "stop it. A missed scenario saves nothing. Saved rows and exported rows are each "
        "summed over all scenarios before dividing, so the share is weighted by rows.", "",
        "| scenario | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for kind in kinds:
        cells = [f"{d} / {t}" for d, t in (r["by_kind"].get(kind, (0, 0))
                                          for r in methods.values())]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += [
        "", f"![Recall against alerts per day](img/{plots.RECALL_VS_ALERTS})", "",
        "Each line sweeps one method's threshold; the star is the setting in the table. "
        f"Ours: alert score >= {', '.join(f'{v:g}' for v in OURS.sweep)}, the severity "
        "bounds. We filter the alerts of a single replay by their score, so a higher "
        "threshold does not get a replay of its own. The first event at or above a "
        "severity bound in an incident always raises an alert (a new incident or an "
        "escalation), so the time of the first alert at each of these thresholds is "
        "exact. What a replay at the higher threshold would add is learning: events "
        "below that threshold would then teach the baselines. A setting with no alert "
        "at all is left off the log axis.", "",
        *_method_notes(det), "",
    ]
    return lines


def _method_notes(det: dict[str, Any]) -> list[str]:
    b = baselines
    return [
        "**This detector** runs with its default settings (`config/detector.toml`). An "
        f"alert comes from any event scoring {OURS.default:g} or more, and one open "
        "incident per employee absorbs further evidence.", "",
        f"**Static row threshold**, the shape of a CRM transaction-security policy: an alert "
        f"on every single data-out action ({', '.join(sorted(DATA_OUT_ACTIONS))}) that "
        f"moves {b.STATIC_ROWS:,} rows or more. It keeps no state and fires at once. It "
        "cannot see exports split into smaller pieces. Swept over the row limit.", "",
        f"**Per-user 3-sigma** on daily rows out, the usual SIEM rule. For each employee, "
        "each data-out action adds its rows to today's running total (today is the "
        "employee's local day). The method alerts once per day, at the action whose total "
        f"first exceeds the mean + {b.SIGMA_K:g} standard deviations (sample) of the "
        "employee's earlier daily totals. Only days with some data out count as history, "
        "since a daily `sum by user` over export events has no row for the other days, "
        "and every such day counts, alerted ones too. The rule stays silent until an "
        f"employee has {b.SIGMA_MIN_DAYS} such days. It is online and never looks ahead. "
        "Swept over k.", "",
        f"**River HalfSpaceTrees** (`preprocessing.MinMaxScaler() | "
        f"anomaly.HalfSpaceTrees(n_trees={b.HST_TREES}, height={b.HST_HEIGHT}, "
        f"window_size={b.HST_WINDOW})`, River's defaults) runs on generic per-event "
        "features. These are the local hour (sine and cosine), weekend, outside working "
        "hours, log rows, data out, a one-hot of the action, log distinct customers "
        "listed, log bytes, and first IP, device or country for this employee. The "
        "employee's events in the last hour and rows out in the last 24 h (log) complete "
        "the set. None of them uses territories, customer tiers, peer groups or HR status. "
        "The channel is left out: on a world of another seed, the top scores went to "
        "scheduled integration syncs at weekends, which is visible without labels and "
        "would use up the alert budget. Each event is scored with `score_one`, then "
        "learned with "
        "`learn_one`. An event raises an alert when its score is strictly above a running "
        f"`stats.Quantile({b.HST_Q:g})` of all earlier scores, with no alert in the first "
        f"{b.HST_WARMUP_DAYS} days. This is `anomaly.QuantileFilter`, except that the "
        "trees learn every event, so that one pass serves every quantile. Each flagged "
        "event is its own alert. Swept over the quantile.", "",
        f"**IsolationForest (daily)** (scikit-learn, {b.IF_TREES} trees) runs on user-day "
        "aggregates over each employee's local day. These are log events, log data-out "
        "actions, log rows out and log largest single export, log distinct customers "
        "listed, off-hours share, log rows out off-hours, distinct IPs, countries and "
        "devices, and weekend. Two more compare the day with the employee's own earlier "
        "days: z-scores of log rows out and of log events against the employee's earlier "
        f"days. These need {baselines.IF_Z_MIN_DAYS} such days, and the spread is floored "
        f"at {baselines.IF_Z_MIN_SD:g}. Without them, a forest over everyone only finds "
        "the employees whose job is big exports. The forest is trained "
        f"on the user-days of days 0 to {det['if_train_days'] - 1}, and only later "
        "user-days are scored. A day is flagged when its `score_samples` falls below the "
        f"{b.IF_CONTAMINATION:g} quantile of the training days' scores, which is what "
        f"`contamination={b.IF_CONTAMINATION:g}` sets. The alert is dated at the end of "
        "the employee's local day, as a nightly batch cannot know sooner, which is why "
        f"its time to detect is long. {det['if_untestable']} of {det['scenarios']} "
        "scenarios ended (plus the day of grace) inside the training period, where this "
        "method cannot alert. Swept over the contamination.",
    ]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


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
    "scaling": scaling, "profile": profile, "partitions": partitions_run,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fingerprint"]:
        from benchmarks import fingerprint

        return fingerprint.main(argv[1:], SEEDS)
    if argv[:1] == ["soak"]:  # half an hour by default: not part of ``all``
        from benchmarks import soak

        return soak.main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("what", nargs="?", default="all", choices=[*RUNS, "all"])
    p.add_argument("--quick", action="store_true", help="tiny inputs (used by the smoke test)")
    p.add_argument("--out", type=Path, default=DOC)
    args = p.parse_args(argv)
    todo = list(RUNS) if args.what == "all" else [args.what]
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in todo:
        if name in results:  # the stream run, done by the speed report already
            continue
        print(f"{name} ...", file=sys.stderr)
        t0 = time.perf_counter()
        results[name] = RUNS[name](args.quick)
        timings[name] = time.perf_counter() - t0
        if name == "speed":  # its service figures are the stream section's
            results["stream"] = results[name]["stream"]
    command = args.what + (" --quick" if args.quick else "")
    text = keep_notes(render(results, timings, command), args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    det = results.get("detection")
    if det:  # beside the markdown, which links it as img/<name>
        plots.recall_vs_alerts(det["sweeps"], args.out.parent / "img" / plots.RECALL_VS_ALERTS,
                               f"Recall against alert volume, {det['world']}")
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
