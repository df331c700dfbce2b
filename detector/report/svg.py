"""Small inline SVG charts for the report: bars, stacked bars and histograms.

The report must be one file that opens offline and prints cleanly, so charts
are drawn here as plain SVG elements (no charting library, no scripts).  Every
drawn mark carries a ``<title>`` with its value, so a reader can hover for the
exact figure and the text of the page holds the numbers too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 720
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 56
# Colour-blind-safe palette (Okabe-Ito); print keeps it (print-color-adjust: exact).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#999999")
SEVERITY_COLOURS = {"low": "#56B4E9", "medium": "#E69F00", "high": "#D55E00",
                    "critical": "#7F0000", "freeze": "#333333"}


def _nice_top(value: float) -> float:
    """A top for four grid steps of 1, 2, 2.5 or 5 times a power of ten (whole steps
    for counts of at most a few), at or above ``value``."""
    if value <= 0:
        return 4.0
    quarter = value / 4
    power = 10 ** math.floor(math.log10(quarter))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= quarter and (power >= 1 or step * power >= 1):
            if step == 2.5 and power < 10:
                continue
            return float(max(1.0, step * power) * 4)
    return float(40 * power)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _frame(title: str, body: list[str], legend: Sequence[tuple[str, str]] = ()) -> str:
    keys = []
    x = _LEFT
    for name, colour in legend:
        keys.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{x + 14}" y="{HEIGHT - 5}" class="legend">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
            f'<title>{escape(title)}</title>' + "".join(body) + "".join(keys) + "</svg>")


def _axes(top: float, unit: str) -> list[str]:
    """Horizontal grid lines with their values, and the baseline."""
    plot_h = HEIGHT - _TOP - _BOTTOM
    out = []
    for i in range(5):
        value = top * i / 4
        y = _TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'class="grid"/><text x="{_LEFT - 6}" y="{y + 4:.1f}" class="tick" '
                   f'text-anchor="end">{_fmt(value)}</text>')
    out.append(f'<text x="12" y="{_TOP + plot_h / 2:.0f}" class="tick" text-anchor="middle" '
               f'transform="rotate(-90 12 {_TOP + plot_h / 2:.0f})">{escape(unit)}</text>')
    return out


def _labels(labels: Sequence[str], slot: float) -> list[str]:
    """Category labels under the bars, thinned so they never overlap."""
    widest = max((len(label[:14]) for label in labels), default=1) * 6.5 + 8
    every = max(1, math.ceil(widest / slot))
    y = HEIGHT - _BOTTOM + 14
    out = []
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = _LEFT + slot * (i + 0.5)
        out.append(f'<text x="{x:.1f}" y="{y}" class="tick" text-anchor="middle">'
                   f'{escape(label[:14])}</text>')
    return out


def stacked_bars(title: str, labels: Sequence[str],
                 series: Mapping[str, Sequence[float]], unit: str,
                 colours: Mapping[str, str] | None = None) -> str:
    """One bar per label, each split into the series (in the order given).

    A single series is a plain bar chart.  Raises ValueError when a series
    does not have one value per label.
    """
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r}: {len(values)} values for {len(labels)} labels")
    names = list(series)
    palette = {n: (colours or {}).get(n, PALETTE[i % len(PALETTE)]) for i, n in enumerate(names)}
    totals = [sum(series[n][i] for n in names) for i in range(len(labels))]
    top = _nice_top(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.75)
    body = _axes(top, unit)
    for i, label in enumerate(labels):
        y: float = _TOP + plot_h
        x = _LEFT + slot * i + (slot - bar_w) / 2
        for name in names:
            value = series[name][i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{palette[name]}" class="mark"><title>{escape(label)} '
                        f'{escape(name)}: {_fmt(value)}</title></rect>')
    body += _labels(labels, slot)
    legend = [(n, palette[n]) for n in names] if len(names) > 1 else []
    return _frame(title, body, legend)


def bars(title: str, values: Mapping[str, float], unit: str, colour: str = PALETTE[0]) -> str:
    """One bar per key, in the order given."""
    return stacked_bars(title, list(values), {unit: list(values.values())}, unit,
                        {unit: colour})


def histogram(title: str, samples: Sequence[float], edges: Sequence[float], unit: str,
              counted: str = "count") -> str:
    """Counts of ``samples`` in the bins between ``edges``; the last bin is open-ended.

    Labels read ``a–b`` and ``≥ last`` so an outlier is counted, not dropped.
    """
    if len(edges) < 2 or list(edges) != sorted(edges):
        raise ValueError("edges: at least two, in increasing order")
    counts = [0.0] * len(edges)
    for value in samples:
        i = len(edges) - 1
        for j in range(len(edges) - 1):
            if value < edges[j + 1]:
                i = j
                break
        counts[i] += 1
    labels = [f"{_fmt(edges[j])}–{_fmt(edges[j + 1])}" for j in range(len(edges) - 1)]
    labels.append(f"≥ {_fmt(edges[-1])}")
    chart = stacked_bars(title, labels, {counted: counts}, counted, {counted: PALETTE[2]})
    return chart.replace("</svg>", f'<text x="{WIDTH - _RIGHT}" y="{HEIGHT - 20}" class="tick" '
                         f'text-anchor="end">{escape(unit)}</text></svg>')


def hbars(title: str, values: Mapping[str, float], unit: str, colour: str = PALETTE[0]) -> str:
    """One horizontal bar per key, in the order given, each labelled in full with its value:
    for categories whose names would not fit under vertical bars."""
    label_w, row_h, value_w = 170, 22, 70
    height = _TOP + row_h * max(1, len(values)) + 28
    top = _nice_top(max(values.values(), default=0.0))
    plot_w = WIDTH - label_w - value_w
    body = []
    for i in range(5):
        x = label_w + plot_w * i / 4
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{height - 24}" '
                    f'class="grid"/><text x="{x:.1f}" y="{height - 10}" class="tick" '
                    f'text-anchor="middle">{_fmt(top * i / 4)}</text>')
    for i, (name, value) in enumerate(values.items()):
        y = _TOP + row_h * i
        w = plot_w * value / top
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" class="tick" text-anchor="end">'
                    f'{escape(name[:28])}</text>')
        if value > 0:
            body.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                        f'fill="{colour}" class="mark"><title>{escape(name)}: {_fmt(value)} '
                        f'{escape(unit)}</title></rect>')
        body.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" class="tick">'
                    f'{_fmt(value)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
            f'<title>{escape(title)}</title>' + "".join(body) +
            f'<text x="{WIDTH - 4}" y="{height - 10}" class="tick" text-anchor="end">'
            f'{escape(unit)}</text></svg>')
