"""Figures for docs/benchmarks.md, drawn off-screen (Agg) so they work on any machine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RECALL_VS_ALERTS = "recall_vs_alerts.png"


def recall_vs_alerts(sweeps: Mapping[str, Sequence[Mapping[str, Any]]], out: Path,
                     title: str = "") -> Path:
    """Recall (y) against alerts per day (x, log), one line per method, defaults marked.

    The trade-off a security team actually buys: how many scenarios a method
    catches for the alerts an analyst has to read.  Settings with no alert at
    all have no place on a log axis and are left out.
    """
    fig = Figure(figsize=(8, 5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, points in sweeps.items():
        shown = sorted((p for p in points if p["alerts_per_day"] > 0),
                       key=lambda p: p["alerts_per_day"])
        if not shown:
            continue
        (line,) = ax.plot([p["alerts_per_day"] for p in shown], [p["recall"] for p in shown],
                          marker="o", markersize=4, label=name)
        for p in shown:
            if p["default"]:
                ax.plot([p["alerts_per_day"]], [p["recall"]], marker="*", markersize=15,
                        color=line.get_color(), markeredgecolor="black", linestyle="none")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("alerts per day (whole organisation, log scale)")
    ax.set_ylabel("scenario recall")
    ax.set_title(title or "Recall against alert volume (star: the reported setting)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
