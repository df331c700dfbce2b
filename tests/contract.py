"""Where the input contracts live for the tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def set_at(path: tuple[Any, ...], value: Any) -> Any:
    """A mutation that sets ``value`` at ``path`` (dict keys or list indexes),
    creating missing objects on the way."""

    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        node: Any = doc
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value
        return doc

    return apply


def drop(name: str) -> Any:
    """A mutation that removes a top-level field."""

    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        del doc[name]
        return doc

    return apply
