"""The soak benchmark's measures: recovery per fault from the sampled committed offsets,
and its section of docs/reliability.md with the memory and lag plot."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmarks.common import ROOT

DOC = ROOT / "docs" / "reliability.md"
IMG = "soak.png"
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"
CAUGHT_UP_S = 2.0  # lag counted as caught up when under this many seconds of input
NAMES = {"kill": "detector SIGKILLed, started again", "cut": "proxy cut every connection",
         "broker": "broker stopped (SIGINT), started again 5 s later"}


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # seconds since the start
    committed: int | None  # events the group has committed (None: not readable then)
    produced: int  # events acknowledged to the feeder
    lag: int | None
    rss_kib: int | None  # the detector's resident memory (None: not running)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds since the start
    kind: str


def recoveries(faults: list[Fault], samples: list[Sample], rate: float) -> list[dict[str, Any]]:
    """Per fault: seconds until the committed offsets advanced and until the lag was back
    under ``CAUGHT_UP_S`` seconds of input (None: not seen).

    "Advanced" is against the first readable sample after the fault, not the last one
    before it: a commit made between that sample and the fault (by a process about to be
    killed, say) would otherwise pass for a recovery.
    """
    bound = rate * CAUGHT_UP_S
    out = []
    for f in faults:
        after = [x for x in samples if x.at > f.at and x.committed is not None]
        advanced = caught = None
        if after:
            base = after[0].committed or 0
            advanced = next((x.at for x in after[1:] if (x.committed or 0) > base), None)
        if advanced is not None:
            caught = next((x.at for x in after if x.at >= advanced and x.lag is not None
                           and x.lag <= bound), None)
        out.append({"at": f.at, "kind": f.kind,
                    "advanced_s": None if advanced is None else advanced - f.at,
                    "caught_up_s": None if caught is None else caught - f.at})
    return out


def rerender(path: Path, doc: Path, img: Path) -> None:
    """The report again from a run's saved results (recoveries recomputed)."""
    r = orjson.loads(path.read_bytes())
    samples = [Sample(**x) for x in r["samples"]]
    r["faults"] = recoveries([Fault(f["at"], f["kind"]) for f in r["faults"]], samples,
                             r["rate"])
    write_report(r, doc, img)


def plot(samples: list[dict[str, Any]], faults: list[dict[str, Any]], out: Path) -> Path:
    """The detector's resident memory and the group's lag over the run, faults marked."""
    fig = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(fig)
    mem, lag = fig.subplots(2, 1, sharex=True)
    mins = [x["at"] / 60 for x in samples if x["rss_kib"] is not None]
    mem.plot(mins, [x["rss_kib"] / 1024 for x in samples if x["rss_kib"] is not None],
             ".", markersize=2)
    mem.set_ylabel("detector RSS (MiB)")
    lag.plot([x["at"] / 60 for x in samples if x["lag"] is not None],
             [x["lag"] for x in samples if x["lag"] is not None], linewidth=0.8)
    lag.set_ylabel("lag (events)")
    lag.set_xlabel("minutes")
    colours = {"kill": "tab:red", "cut": "tab:orange", "broker": "tab:purple"}
    for ax in (mem, lag):
        for f in faults:
            ax.axvline(f["at"] / 60, color=colours.get(f["kind"], "black"), alpha=0.5,
                       linewidth=0.8)
        ax.grid(True, alpha=0.3)
    mem.set_title("Soak: red kill, orange connections cut, purple broker restart")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _s(x: float | None) -> str:
    return "not seen" if x is None else f"{x:.0f} s"


def render(r: dict[str, Any], img: str) -> str:
    samples = r["samples"]
    lags = [x["lag"] for x in samples if x["lag"] is not None]
    rss = [x["rss_kib"] / 1024 for x in samples if x["rss_kib"] is not None]
    gaps = sum(1 for x in samples if x["committed"] is None)
    fed = r["sent"] / r["fed_seconds"] if r["fed_seconds"] else 0.0
    lines = [
        BEGIN, "## Soak: steady traffic with faults", "",
        f"`python -m benchmarks soak --minutes {r['minutes']:g} --rate {r['rate']:g}` "
        f"(not part of `all`: it takes the minutes asked plus the drain, read-back and "
        f"replay). The detector ran as its own process (`insider-detector run --config`, "
        f"exactly_once, {r['partitions']} partitions) behind a fault-injecting proxy, on "
        f"Tansu with S3 storage (moto). Input: the world {r['world']}, looped with new event "
        f"ids and timestamps moved back by whole world spans. Replay was fed the events "
        f"topic up to the group's final committed offsets (all of it once drained), "
        f"partition by partition. Lag and memory were "
        f"sampled every 2 s ({gaps} samples unreadable while the broker was down or "
        f"connections were cut). {r['machine']}; the machine was shared with other work.", "",
        "| measure | value |", "| --- | --- |",
        f"| events sent (asked {r['rate']:,.0f}/s) | {r['sent']:,} in {r['fed_seconds']:.0f} s "
        f"({fed:,.0f}/s), {r['send_errors']} send errors |",
        f"| events in the topic / committed by the detector (replayed) / scored | "
        f"{r['events_produced']:,} / {r['events_in']:,} / {r['events_scored']:,} |",
        f"| actions out (replay / committed view) | {r['actions_replay']:,} / "
        f"{r['actions_committed']:,} |",
        f"| lost (in replay, not in the committed view) | {r['lost']} |",
        f"| unexpected or different | {r['unexpected']}, {r['different']} |",
        f"| duplicates read (read committed, Tansu) | {r['duplicates']} |",
        f"| records in transactions shown aborted | {r['in_aborted']} "
        f"({r['aborted']} of {r['transactions']} transactions) |",
        f"| duplicates outside aborted transactions | {r['unexplained']} |",
        f"| maximum lag | {max(lags, default=0):,} events |",
        f"| drained after the input stopped | "
        f"{'yes' if r['drained'] else 'NO'}, in {r['drain_seconds']:.0f} s |",
        f"| detector RSS min / max | {min(rss, default=0):.0f} / {max(rss, default=0):.0f} "
        f"MiB |",
        f"| detector starts | {r['detector_starts']} |", "",
        f"| at | fault | committed offsets advanced after | lag under "
        f"{CAUGHT_UP_S:g} s of input after |", "| --- | --- | --- | --- |",
    ]
    for f in r["faults"]:
        lines.append(f"| {f['at'] / 60:.1f} min | {NAMES.get(f['kind'], f['kind'])} | "
                     f"{_s(f['advanced_s'])} | {_s(f['caught_up_s'])} |")
    lines += [
        "", "Recovery is read from the samples, so it is known to within 2 s, and counts "
        "from the fault to the first sample after it whose committed offsets are beyond "
        "those of the first sample after the fault. A duplicate "
        "read is excused only when its transaction is shown aborted by the provenance "
        "headers (`consumers/committed_view.py`): Tansu serves aborted records to "
        "read-committed readers, Apache Kafka does not.", "",
        f"![detector memory and lag over the soak](img/{img})", END,
    ]
    return "\n".join(lines) + "\n"


def write_report(r: dict[str, Any], doc: Path, img: Path) -> None:
    """Replace the soak section of the document (or add it before "Not covered yet")."""
    plot(r["samples"], r["faults"], img)
    section = render(r, img.name)
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Reliability\n"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n", lambda _: section,
                      text, flags=re.S)
    elif "## Not covered yet" in text:
        text = text.replace("## Not covered yet", section + "\n## Not covered yet", 1)
    else:
        text = text.rstrip() + "\n\n" + section
    doc.write_text(text, encoding="utf-8")
