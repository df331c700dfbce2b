"""Where the input contracts live for the tests."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def contract_file(name: str) -> Path:
    """The contract travels with the repo (schemas/) or sits next to it (shared/contract/)."""
    candidates = [ROOT / "schemas" / name, ROOT.parent / "shared" / "contract" / name]
    if os.environ.get("CONTRACT_DIR"):
        candidates.insert(0, Path(os.environ["CONTRACT_DIR"]) / name)
    for path in candidates:
        if path.is_file():
            return path
    raise AssertionError(f"contract file {name} not found in {candidates}")
