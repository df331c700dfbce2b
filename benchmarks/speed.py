"""The speed report: parse ceiling, replay, the service and state, on one input.

Every figure comes from the same events (the stream benchmark's world and
count), so the ratios compare like with like: the orjson parse-only rate is
the ceiling, replay is the core on one thread, end to end is one service
process behind a real broker.  Parse-only and replay runs alternate and the
best of each counts, since other processes on a shared machine slow single
runs unevenly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import CACHE, checkpoint_bytes_per_employee, run_replay
from benchmarks.stream import stream, stream_input
from detector.wire.jsonl import iter_lines

RUNS = 3
# Floors of the speed issue, on a 2-core machine.
REPLAY_OF_PARSE = 0.25
SERVICE_OF_REPLAY = 0.8
P99_MS = 150.0
STATE_BYTES = 4096


def speed_input(quick: bool) -> tuple[str, Path, int]:
    """The stream benchmark's first n events as a world of their own, for replay."""
    employees, days, path, n = stream_input(quick)
    out = CACHE / f"{path.name}-first{n}"
    if not (out / "events.jsonl").exists():
        out.mkdir(parents=True, exist_ok=True)
        with (path / "events.jsonl").open("rb") as src:
            head = [line for _, line in zip(range(n), src, strict=False)]
        (out / "employees.jsonl").write_bytes((path / "employees.jsonl").read_bytes())
        tmp = out / "events.jsonl.tmp"
        tmp.write_bytes(b"".join(head))
        tmp.replace(out / "events.jsonl")
    return f"{employees} employees x {days} days, first {n:,} events", out, n


def parse_only(events: Path) -> tuple[int, float]:
    """(events, events/s) of reading the lines and ``orjson.loads`` alone."""
    t0 = time.perf_counter()
    n = 0
    for _, raw in iter_lines(str(events)):
        orjson.loads(raw)
        n += 1
    return n, n / (time.perf_counter() - t0)


def speed(quick: bool) -> dict[str, Any]:
    what, path, _ = speed_input(quick)
    parse_best = replay_best = 0.0
    events = 0
    state_bytes = 0.0
    for _ in range(1 if quick else RUNS):
        events, rate = parse_only(path / "events.jsonl")
        parse_best = max(parse_best, rate)
        summary, engine, _ = run_replay(path)
        replay_best = max(replay_best, summary.events_per_second)
        state_bytes = checkpoint_bytes_per_employee(engine)
    print(f"  parse-only {parse_best:,.0f}/s, replay {replay_best:,.0f}/s", file=sys.stderr)
    sm = stream(quick)
    return {"world": what, "events": events, "parse_only": parse_best, "replay": replay_best,
            "replay_of_parse": replay_best / parse_best, "e2e": sm["e2e"],
            "e2e_of_replay": sm["e2e"] / replay_best, "state_per_employee": state_bytes,
            "stream": sm}


def floors(sp: dict[str, Any]) -> list[tuple[str, str, bool]]:
    lat = sp["stream"]["latency"]
    at_rate = lat["achieved_rate"] >= 0.95 * lat["target_rate"]
    return [
        (f"replay >= {REPLAY_OF_PARSE:.0%} of the orjson parse-only rate",
         f"{sp['replay_of_parse']:.1%}", sp["replay_of_parse"] >= REPLAY_OF_PARSE),
        (f"service end to end >= {SERVICE_OF_REPLAY:.0%} of replay",
         f"{sp['e2e_of_replay']:.1%}", sp["e2e_of_replay"] >= SERVICE_OF_REPLAY),
        (f"p99 produce-to-action <= {P99_MS:.0f} ms at {lat['target_rate']:,.0f} events/s",
         f"{lat['p99_ms']:,.0f} ms at {lat['achieved_rate']:,.0f} events/s",
         lat["p99_ms"] <= P99_MS and at_rate),
        (f"state <= {STATE_BYTES // 1024} KB per employee (after the speed input)",
         f"{sp['state_per_employee']:,.0f} B", sp["state_per_employee"] <= STATE_BYTES),
    ]


def render_speed(sp: dict[str, Any]) -> list[str]:
    lat = sp["stream"]["latency"]
    rows = [
        ("read + orjson parse only (ceiling)", f"{sp['parse_only']:,.0f} events/s", "–"),
        ("replay (parse, validate, score, decide, learn), one thread",
         f"{sp['replay']:,.0f} events/s", "–"),
        ("replay / parse only", f"{sp['replay_of_parse']:.1%}", f">= {REPLAY_OF_PARSE:.0%}"),
        ("service end to end, one process, real broker", f"{sp['e2e']:,.0f} events/s", "–"),
        ("end to end / replay", f"{sp['e2e_of_replay']:.1%}", f">= {SERVICE_OF_REPLAY:.0%}"),
        (f"produce-to-action p50 at {lat['achieved_rate']:,.0f} events/s",
         f"{lat['p50_ms']:,.0f} ms", "–"),
        (f"produce-to-action p99 at {lat['achieved_rate']:,.0f} events/s",
         f"{lat['p99_ms']:,.0f} ms", f"<= {P99_MS:.0f} ms"),
        ("checkpointed state per employee", f"{sp['state_per_employee']:,.0f} B",
         f"<= {STATE_BYTES:,} B"),
    ]
    met = {f[0]: f[2] for f in floors(sp)}
    verdicts = iter(met.values())
    lines = ["## Replay speed (one core)", "",
             f"One input for every figure: {sp['world']} ({sp['events']:,} events). Parse-only "
             f"and replay runs alternate, best of {RUNS}; end to end and latency are the "
             "streaming section's run below. Produce-to-action runs from `send` to the "
             "commit of the checkpoint that makes the event's actions visible.", "",
             "| measure | measured | floor | met |", "|---|---|---|---|"]
    for what, got, floor in rows:
        ok = "–" if floor == "–" else ("yes" if next(verdicts) else "**no**")
        lines.append(f"| {what} | {got} | {floor} | {ok} |")
    return [*lines, ""]


NOTES_BEGIN, NOTES_END = "<!-- speed-notes:begin -->", "<!-- speed-notes:end -->"


def keep_notes(text: str, old: Path) -> str:
    """The written notes on the speed work (before and after figures, profiles) that
    ``old`` holds between the markers, carried into ``text`` after its speed section:
    those figures were measured once, on code that no longer exists, and a rerun
    cannot regenerate them."""
    if not old.exists() or "## Replay speed" not in text:
        return text
    current = old.read_text(encoding="utf-8")
    start, end = current.find(NOTES_BEGIN), current.find(NOTES_END)
    if start < 0 or end < start:
        return text
    block = current[start:end + len(NOTES_END)]
    head, _, rest = text.partition("## Replay speed")
    after = rest.find("\n## ")
    if after < 0:
        return f"{head}## Replay speed{rest.rstrip()}\n\n{block}\n"
    return f"{head}## Replay speed{rest[:after]}\n{block}\n{rest[after:]}"
