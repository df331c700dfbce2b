"""``python -m benchmarks fingerprint --write PATH | --check PATH``: a fingerprint of
the detector's decisions, to show that a refactoring or a speed-up changed none.

Worlds replayed (about 8 minutes on 2 busy cores once the worlds are cached in
``out/bench``; generating them takes a few minutes more the first time):

* the benchmark worlds: every seed of ``benchmarks.__main__.SEEDS`` at 400
  employees x 42 days, replayed by one engine, and the first seed again split
  over 4 partitions as the service splits it;
* the tests' simulated worlds (``tests/conftest.py``: 40 x 9, seed 77, with
  malformed records; ``tests/test_notebooks.py``: 40 x 14, seed 31);
* the tests' hand-built worlds: every ``tests.worldkit.World.run`` made by the
  scenario, bundle, investigation, explore and robustness tests, run through
  pytest with a recorder, keyed by test file name, test and call number.

Per world it keeps the sha256 over the action lines (sorted keys, action ids
and ``decided_at`` included; the clock is fixed) and counts of events,
rejects by code, alerts by severity, freezes and releases.  A faithful subset:
the benchmark's detection runs use exactly these replays.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import CACHE, ROOT, world
from detector.replay import load_directory, replay
from detector.settings import Settings
from detector.simulator import SimConfig, stream_world
from detector.wire.jsonl import iter_lines

BENCH_WORLD = (400, 42)
TEST_FILES = ("detector/test_scenarios.py", "detector/test_bundle.py",
              "detector/test_investigate.py", "detector/test_explore.py",
              "consumers/test_robustness.py")


class _Digest:
    """sha256 over canonical action lines, with the count of actions by type."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.types: dict[str, int] = {}

    def add(self, action: dict[str, Any]) -> None:
        self.sha.update(orjson.dumps(action, option=orjson.OPT_SORT_KEYS) + b"\n")
        kind = str(action["type"])
        self.types[kind] = self.types.get(kind, 0) + 1

    def result(self, **counts: Any) -> dict[str, Any]:
        return {"sha256": self.sha.hexdigest(), "actions": dict(sorted(self.types.items())),
                **counts}


def _replay(path: Path, partitions: int = 1) -> dict[str, Any]:
    directory, ok, bad = load_directory(iter_lines(str(path / "employees.jsonl")))
    digest = _Digest()
    summary, _ = replay(Settings(), iter_lines(str(path / "events.jsonl")), directory,
                        lambda line: digest.add(orjson.loads(line)), clock=lambda: 0.0,
                        partitions=partitions)
    return digest.result(events=summary.events, rejects=summary.rejects,
                         reject_reasons=dict(sorted(summary.reject_reasons.items())),
                         alerts=dict(sorted(summary.alerts.items())), freezes=summary.freezes,
                         releases=summary.releases, directory=[ok, bad])


def _sim_world(employees: int, days: int, seed: int, malformed: float) -> Path:
    out = CACHE / f"world-{employees}x{days}-s{seed}-m{malformed}"
    if not (out / "labels.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        stream_world(SimConfig(employees=employees, days=days, seed=seed,
                               malformed_rate=malformed), out)
    return out


def _hand_built_worlds() -> dict[str, dict[str, Any]]:
    """Every ``World.run`` of the tests' hand-built worlds, recorded under pytest."""
    import pytest

    sys.path.insert(0, str(ROOT))
    from tests import worldkit

    digests: dict[str, _Digest] = {}
    current = ["?"]
    original = worldkit.World.run

    def recording_run(self: worldkit.World, *args: Any, **kwargs: Any) -> Any:
        actions, engine = original(self, *args, **kwargs)
        n = sum(1 for k in digests if k.startswith(current[0] + "#"))
        digest = digests.setdefault(f"{current[0]}#{n}", _Digest())
        for a in actions:
            digest.add(a.to_dict())
        return actions, engine

    class Recorder:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: pytest.Item) -> Iterable[None]:
            # Keyed by file name and test, not directory: moving a test file
            # between the tests' folders keeps its worlds comparable.
            current[0] = f"tests/{item.path.name}::{item.nodeid.split('::', 1)[1]}"
            yield

    worldkit.World.run = recording_run  # type: ignore[method-assign]
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider",
                            *(str(ROOT / "tests" / f) for f in TEST_FILES)],
                           plugins=[Recorder()])
    finally:
        worldkit.World.run = original  # type: ignore[method-assign]
    if code != 0:
        print(f"fingerprint: the tests' worlds ran with failures (pytest exit {code})",
              file=sys.stderr)
    return {f"tests/{k}": d.result() for k, d in sorted(digests.items())}


def fingerprint(seeds: Iterable[int]) -> dict[str, dict[str, Any]]:
    worlds: dict[str, dict[str, Any]] = {}
    seeds = list(seeds)
    employees, days = BENCH_WORLD
    for i, seed in enumerate(seeds):
        path = world(employees, days, seed)
        print(f"  replay {path.name}", file=sys.stderr)
        worlds[path.name] = _replay(path)
        if i == 0:
            worlds[path.name + "/partitions=4"] = _replay(path, partitions=4)
    for employees, days, seed, malformed in ((40, 9, 77, 0.001), (40, 14, 31, 0.0)):
        path = _sim_world(employees, days, seed, malformed)
        print(f"  replay {path.name}", file=sys.stderr)
        worlds[path.name] = _replay(path)
    worlds.update(_hand_built_worlds())
    return worlds


def main(argv: list[str], seeds: Iterable[int]) -> int:
    """``--write PATH`` records, ``--check PATH`` compares and names the first difference."""
    if len(argv) != 2 or argv[0] not in ("--write", "--check"):
        print("usage: python -m benchmarks fingerprint --write PATH | --check PATH",
              file=sys.stderr)
        return 2
    mode, target = argv[0], Path(argv[1])
    worlds = fingerprint(seeds)
    if mode == "--write":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(worlds, option=orjson.OPT_INDENT_2))
        print(f"fingerprint: {len(worlds)} worlds written to {target}")
        return 0
    recorded: dict[str, Any] = orjson.loads(target.read_bytes())
    for name in sorted(set(recorded) | set(worlds)):
        if recorded.get(name) != worlds.get(name):
            print(f"fingerprint: world {name} differs\n  recorded {recorded.get(name)}\n"
                  f"  now      {worlds.get(name)}", file=sys.stderr)
            return 1
    print(f"fingerprint: {len(worlds)} worlds identical to {target}")
    return 0
