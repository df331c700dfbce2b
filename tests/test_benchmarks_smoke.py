"""The benchmarks run end to end on tiny inputs, so they never rot."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.common as common
from benchmarks.__main__ import main


def test_benchmarks_run_on_tiny_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "CACHE", tmp_path / "cache")
    out = tmp_path / "benchmarks.md"
    assert main(["all", "--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("## Detection quality", "## Replay speed", "## State per employee",
                    "## Streaming through a broker"):
        assert heading in text
    assert "events/s" in text and "| scenario recall |" in text
