"""The benchmarks run end to end on tiny inputs, so they never rot."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.common as common
from benchmarks.__main__ import main
from benchmarks.baselines import METHODS
from benchmarks.plots import RECALL_VS_ALERTS


def test_benchmarks_run_on_tiny_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "CACHE", tmp_path / "cache")
    out = tmp_path / "benchmarks.md"
    assert main(["all", "--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("## Detection quality", "## Replay speed", "## State per employee",
                    "## Streaming through a broker"):
        assert heading in text
    assert "events/s" in text and "| scenario recall |" in text
    # Every method has a row of figures in the comparison and a column in the by-scenario table.
    assert "### Against the methods in use today" in text
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()
            if line.startswith("| ") and line.count(" | ") == 7}
    for m in METHODS:
        assert m.name in rows, m.name
        assert "%" in rows[m.name] and "/" in rows[m.name]
    header = next(line for line in text.splitlines()
                  if line.startswith("| scenario | ") and METHODS[0].name in line)
    assert [c.strip() for c in header.strip("| ").split(" | ")[1:]] == [m.name for m in METHODS]
    assert "| chunked_export | " in text
    # The plot is written beside the markdown (never into docs/) and linked from it.
    plot = tmp_path / "img" / RECALL_VS_ALERTS
    assert f"](img/{RECALL_VS_ALERTS})" in text
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
