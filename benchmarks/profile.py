"""Where replay time goes: a cProfile of one simulated world, and the cost per event by stage.

The profile ranks functions, but a deterministic profiler charges every call
a fixed overhead, which inflates many small calls more than a few large ones.
The cost by stage therefore comes from a separate run without the profiler:
timers wrap only the stage entry points (parse, measure, score, learn,
decide, directory lookup), their own cost is calibrated and taken off, and
what is left of an untimed run's time per event is the rest of the loop.
"""

from __future__ import annotations

import ast
import cProfile
import pstats
import sysconfig
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import detector.replay as replay_module
from benchmarks.common import ROOT, world
from detector.decisions import IncidentBook
from detector.directory import Directory
from detector.engine import Engine
from detector.replay import load_directory, replay
from detector.scoring import Scorer
from detector.settings import Settings
from detector.wire.jsonl import iter_lines

SEED = 9404
TOP = 15

# (stage, owner, attribute): the entry points each stage is timed at.
_STAGES: tuple[tuple[str, Any, str], ...] = (
    ("parse", replay_module, "parse_event"),
    ("measure", Scorer, "observe"),
    ("score", Scorer, "assess"),
    ("learn", Scorer, "learn"),
    ("decide", IncidentBook, "decide"),
    ("decide", IncidentBook, "expire"),
    ("decide", Engine, "_trigger"),
    ("decide", Engine, "_count"),
    ("decide", Scorer, "note_elevated"),
    ("directory", Directory, "at"),
)
STAGE_ROWS = (
    ("parsing", "parse", "`detector.wire.events.parse_event`: size check, decoding and "
     "schema checks (msgspec; orjson and Python checks for what it refuses)"),
    ("scoring: measure", "measure", "`Scorer.observe`: local time, windows, territory shares"),
    ("scoring: score", "score", "`Scorer.assess`: signals against the baselines, reasons"),
    ("learning", "learn", "`Scorer.learn`: baselines, hour profile, recent devices and places"),
    ("deciding", "decide", "`IncidentBook.decide` / `expire`, the trigger, the counts"),
    ("directory lookup", "directory", "`Directory.at`: the record in force at the event"),
)


def profile(quick: bool) -> dict[str, Any]:
    """Replays of one world: untimed (best of the runs), timed by stage, and profiled."""
    employees, days = (60, 3) if quick else (400, 7)
    path = world(employees, days, SEED)
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))

    def run() -> int:
        summary, _ = replay(Settings(), iter_lines(str(path / "events.jsonl")), directory,
                            _discard, clock=_zero)
        return summary.events

    plain, events = min(_seconds(run) for _ in range(1 if quick else 2))
    stages, timer_ns = _by_stage(run)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(replay, Settings(), iter_lines(str(path / "events.jsonl")), directory,
                 _discard, clock=_zero)
    profiled = time.perf_counter() - t0
    rows = _rows(pstats.Stats(prof))
    total = max(r["cum_s"] for r in rows)  # the replay call: the whole profiled run
    by_own = sorted(rows, key=lambda r: r["own_s"], reverse=True)[:TOP]
    by_cum = sorted(rows, key=lambda r: r["cum_s"], reverse=True)[:TOP]
    per_event = {k: 1e6 * v / events for k, v in stages.items()}
    return {
        "world": f"{employees} employees x {days} days, seed {SEED}",
        "events": events,
        "plain_us": 1e6 * plain / events,
        "plain_rate": events / plain,
        "profiled_s": profiled,
        "plain_s": plain,
        "total_s": total,
        "by_own": [{**r, "share": r["own_s"] / total} for r in by_own],
        "by_cum": [{**r, "share": r["cum_s"] / total} for r in by_cum],
        "stages_us": per_event,
        "rest_us": 1e6 * plain / events - sum(per_event.values()),
        "timer_ns": timer_ns,
    }


def _discard(_: bytes) -> None:
    """Actions are dropped: writing them out is not the detector's work."""


def _zero() -> float:
    return 0.0


def _seconds(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    got = fn()
    return time.perf_counter() - t0, got


def _by_stage(run: Callable[[], int]) -> tuple[dict[str, float], float]:
    """Seconds spent inside each stage's entry points, the timers' own cost taken off."""
    spent = {stage: 0.0 for stage, _, _ in _STAGES}
    calls = dict.fromkeys(spent, 0)
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in _STAGES]
    try:
        for stage, owner, name in _STAGES:
            setattr(owner, name, _timed(getattr(owner, name), stage, spent, calls))
        run()
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    inside = _timer_cost()
    return {k: max(0.0, v - inside * calls[k]) for k, v in spent.items()}, 1e9 * inside


def _timed(fn: Callable[..., Any], stage: str, spent: dict[str, float],
           calls: dict[str, int]) -> Callable[..., Any]:
    clock = time.perf_counter

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[stage] += clock() - t0
            calls[stage] += 1

    return timed


def _timer_cost(n: int = 200_000) -> float:
    """Seconds a timer adds inside its own window, per call: a timed call of nothing."""
    spent, calls = {"x": 0.0}, {"x": 0}
    nothing = _timed(lambda *a, **k: None, "x", spent, calls)
    best = float("inf")
    for _ in range(3):
        spent["x"] = 0.0
        for _ in range(n):
            nothing(1, 2)
        best = min(best, spent["x"] / n)
    return best


# -- the profile's table ----------------------------------------------------------------


def _rows(stats: pstats.Stats) -> list[dict[str, Any]]:
    out = []
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, own, cum, _) in raw.items():
        if "_lsprof" in name:  # the profiler switching itself off
            continue
        out.append({"function": _qualified(file, line, name), "where": _where(file, line),
                    "calls": calls, "own_s": own, "cum_s": cum})
    return out


def _where(file: str, line: int) -> str:
    if file == "~":
        return "built-in"
    p = Path(file)
    if "site-packages" in p.parts:
        i = len(p.parts) - 1 - p.parts[::-1].index("site-packages")
        return f"{'/'.join(p.parts[i + 1:])}:{line}"
    for base, prefix in ((ROOT, ""), (Path(sysconfig.get_paths()["stdlib"]), "stdlib/")):
        try:
            return f"{prefix}{p.resolve().relative_to(base.resolve())}:{line}"
        except ValueError:
            continue
    return f"{p.name}:{line}"


def _qualified(file: str, line: int, name: str) -> str:
    """``Class.method`` where the source says so; cProfile only records the bare name."""
    return _qualnames(file).get(line, name) if file.endswith(".py") else name


@cache
def _qualnames(file: str) -> dict[int, str]:
    try:
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[int, str] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                q = f"{prefix}{child.name}"
                # A code object starts at its first decorator.
                for at in (child.lineno, *(d.lineno for d in child.decorator_list)):
                    found[at] = q
                walk(child, f"{q}.<locals>.")

    walk(tree, "")
    return found


def render_profile(pr: dict[str, Any]) -> list[str]:
    lines = [
        "## Where replay time goes", "",
        f"cProfile of one replay of {pr['events']:,} events ({pr['world']}): "
        f"{pr['profiled_s']:.1f} s under the profiler against {pr['plain_s']:.1f} s without "
        f"({pr['plain_rate']:,.0f} events/s). A profiler charges each call the same, so small "
        "functions called often look dearer than they are; the shares rank the functions, "
        "the cost by stage below gives the times.", "",
        f"### Top {TOP} functions by own time", "",
        *_table(pr["by_own"]),
        "", f"### Top {TOP} functions by cumulative time", "",
        *_table(pr["by_cum"]),
        "", "### Cost per event by stage", "",
        "| stage | what | µs per event | share |", "|---|---|---|---|",
    ]
    total = pr["plain_us"]
    stages = pr["stages_us"]
    for label, key, what in STAGE_ROWS:
        if label == "learning":
            scoring = stages["measure"] + stages["score"]
            lines.append(f"| scoring (measure + score) | | {scoring:.2f} | "
                         f"{scoring / total:.0%} |")
        lines.append(f"| {label} | {what} | {stages[key]:.2f} | {stages[key] / total:.0%} |")
    lines += [
        f"| everything else | reading lines, the replay loop, the duplicate check, counters | "
        f"{pr['rest_us']:.2f} | {pr['rest_us'] / total:.0%} |",
        f"| total | one replay without timers or profiler | {total:.2f} | 100% |", "",
        "Stages are timed in a run of their own, without the profiler, by timers around their "
        f"entry points; a timer's own cost ({pr['timer_ns']:.0f} ns a call) is taken off. "
        "*Everything else* is the untimed run's time per event less the stages.", "",
        "### What the profile led to", "",
        "Earlier profiles put the time in date handling and repeated lookups; what is in "
        "the code because of them: timestamps parsed through small caches of the hour, "
        "the minute and second, and the offset text (a full RFC 3339 parse only on a "
        "miss); UTC offsets cached per time zone and UTC hour; the month-end rule cached "
        "per local day; the directory record's territory hash recomputed only when the "
        "record changes; scores counted into a 101-slot list rather than a histogram per "
        "event; the service's metrics kept as plain counters that the collector reads at "
        "scrape time; valid documents decoded and checked in C by msgspec Structs, with "
        "the field-by-field checks kept for every other document and for the wording of "
        "errors. What this profile points at next: scoring and learning, most of the "
        "time per event, are pure-Python look-ups and allocations that only a compiler "
        "for the typed core (mypyc) would take a large share of.", "",
    ]
    return lines


def _table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| function | file:line | calls | own s | cumulative s | share of total |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        name = r["function"].replace("|", "\\|")
        out.append(f"| `{name}` | {r['where']} | {r['calls']:,} | {r['own_s']:.3f} | "
                   f"{r['cum_s']:.3f} | {r['share']:.1%} |")
    return out
