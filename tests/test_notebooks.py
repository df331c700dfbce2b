"""The analysts' notebooks: stored without outputs, and run top to bottom on a small world.

Each notebook's ``parameters`` cell is given the test's paths (appended to the
cell, so the defaults stay visible above them) and the notebook is executed
in a kernel that runs this interpreter.  Notebooks are slow to run, so each is
executed once per module and the tests read the results.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import orjson
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from consumers.broker import EmbeddedBroker
from consumers.topics import ensure_topics
from detector import bundles
from detector.baseline_runs import replay_into
from detector.replay import load_directory, replay
from detector.settings import DecisionSettings, Settings
from detector.simulator import SimConfig
from detector.simulator.writer import stream_world
from detector.wire.jsonl import iter_lines
from detector.wire.times import parse_timestamp
from tests.kafka_kit import produce, service_settings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_explore", "02_retrain_baselines", "03_evaluate_and_tune", "04_investigate_alert")
PROBE = "import sys\nprint('kernel prefix:', sys.prefix)"
BUDGET = 0.5  # alerts per day given to the tuning notebook

Run = tuple[nbformat.NotebookNode, float]


def _parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    return tagged[0]


def _outputs(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for o in _outputs(nb):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts += [str(v) for k, v in o.data.items() if k.startswith("text/")]
        elif o.output_type == "error":
            parts.append("\n".join(o.traceback))
    return "\n".join(parts)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(1 for o in _outputs(nb) if "image/png" in o.get("data", {}))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("notebook-world")
    stream_world(SimConfig(employees=40, days=14, seed=31), out)
    return out


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A ``python3`` kernelspec running this interpreter, whatever else is installed."""
    root = tmp_path_factory.mktemp("kernels")
    (root / "python3").mkdir()
    (root / "python3" / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python",
    }))
    return KernelSpecManager(kernel_dirs=[str(root)])


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebook-out")


@pytest.fixture(scope="module")
def run(world: Path, kernels: KernelSpecManager, out_dir: Path
        ) -> Iterator[Callable[..., Run]]:
    """Execute a notebook with the test's parameters plus ``extra``, once per distinct set."""
    params: dict[str, dict[str, Any]] = {
        "02_retrain_baselines": {"BUNDLE_PATH": str(out_dir / "baselines.bundle")},
        "03_evaluate_and_tune": {"BUNDLE_OUT": str(out_dir / "tuned.bundle"),
                                 "ALERTS_PER_DAY_BUDGET": BUDGET},
    }
    done: dict[str, Run] = {}

    def execute(name: str, **extra: Any) -> Run:
        key = name + repr(sorted(extra.items()))
        if key not in done:
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            cell = _parameters_cell(nb)
            given = {"WORLD_DIR": str(world), **params.get(name, {}), **extra}
            cell.source += "\n# set by the test\n" + "\n".join(
                f"{k} = {v!r}" for k, v in given.items())
            nb.cells.append(nbformat.v4.new_code_cell(PROBE))
            km = KernelManager(kernel_name="python3", kernel_spec_manager=kernels)
            client = NotebookClient(nb, km=km, timeout=120,
                                    resources={"metadata": {"path": str(ROOT)}})
            started = time.monotonic()
            client.execute()
            done[key] = (nb, time.monotonic() - started)
        return done[key]

    with pytest.MonkeyPatch.context() as mp:
        # The kernel picks its inline backend only when none is forced on it, and the
        # notebooks read INSIDER_* variables as the CLI does: none may leak in from outside.
        mp.delenv("MPLBACKEND", raising=False)
        for name in [k for k in os.environ if k.startswith("INSIDER_")]:
            mp.delenv(name)
        yield execute


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_stored_notebooks_have_no_outputs_and_literal_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs stored in cell {cell.id}"
            assert cell.execution_count is None, f"{path.name}: execution count in {cell.id}"
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first is _parameters_cell(nb), "the parameters cell must be the first code cell"
    for stmt in ast.parse(first.source).body:
        assert isinstance(stmt, ast.Assign), f"{path.name}: parameters hold assignments only"
        ast.literal_eval(stmt.value)  # paths, sizes, seeds: literals, no code
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_every_stored_notebook_is_executed_here() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_cleanly_in_this_interpreter(run: Callable[..., Run], name: str) -> None:
    nb, _ = run(name)
    assert not [o for o in _outputs(nb) if o.output_type == "error"]
    assert f"kernel prefix: {sys.prefix}" in _text(nb)


def test_explore_draws_every_figure(run: Callable[..., Run]) -> None:
    nb, _ = run("01_explore")
    text = _text(nb)
    assert _images(nb) >= 4
    assert re.search(r"[\d,]+ events of 40 employees", text)
    for role in ("sales_rep", "analyst", "marketing"):
        assert role in text


def test_retrain_writes_a_bundle_that_loads(run: Callable[..., Run], out_dir: Path,
                                            world: Path) -> None:
    nb, _ = run("02_retrain_baselines")
    loaded = bundles.load(out_dir / "baselines.bundle")
    m = loaded.metadata
    events = sum(1 for _ in iter_lines(str(world / "events.jsonl")))
    assert 0.99 * events <= m.events <= events
    assert m.employees == 40 and m.partitions == 1
    assert m.notes == "fit in 02_retrain_baselines"
    assert m.evaluation is not None and m.evaluation["scenarios"] >= 8
    assert f"bundle {loaded.version} -> " in _text(nb)
    assert _images(nb) >= 1


def test_tune_picks_the_lowest_threshold_in_budget_and_records_it(
        run: Callable[..., Run], out_dir: Path) -> None:
    nb, _ = run("03_evaluate_and_tune")
    found = re.search(r"chosen alert threshold: (\d+(?:\.\d+)?)", _text(nb))
    assert found, "the tuning notebook must print the chosen threshold"
    chosen = float(found.group(1))
    m = bundles.load(out_dir / "tuned.bundle").metadata
    assert m.settings["decisions"]["alert"] == chosen
    # What the service does with a bundle's thresholds: they must make valid settings.
    Settings(decisions=DecisionSettings(**m.settings["decisions"]))
    ev = m.evaluation
    assert ev is not None and ev["alert_threshold"] == chosen
    assert ev["alerts_per_day_budget"] == BUDGET
    fitting = [p["threshold"] for p in ev["curve"] if p["alerts_per_day"] <= BUDGET]
    assert chosen == (min(fitting) if fitting else max(p["threshold"] for p in ev["curve"]))
    assert [p["contamination"] for p in ev["isolation_forest"]] == [
        0.001, 0.003, 0.01, 0.03, 0.1]
    assert "differs from the current settings: decisions.alert" in _text(nb) or chosen == 40
    assert _images(nb) >= 2


def test_investigate_takes_the_highest_score_alert(run: Callable[..., Run],
                                                   world: Path) -> None:
    nb, _ = run("04_investigate_alert")
    directory, _, _ = load_directory(iter_lines(str(world / "employees.jsonl")))
    lines: list[bytes] = []
    replay(Settings(), iter_lines(str(world / "events.jsonl")), directory, lines.append,
           clock=lambda: 0.0)
    alerts = [a for a in map(orjson.loads, lines) if a["type"] == "alert"]
    top = max(a["score"] for a in alerts)
    text = _text(nb)
    picked = re.search(r"alert (alert-[0-9a-f]+): \w+, score (\d+)", text)
    assert picked and int(picked.group(2)) == top
    assert picked.group(1) in {a["action_id"] for a in alerts if a["score"] == top}
    assert _images(nb) >= 3
    # The incident's scope: references are 64 hex digits, one per customer listed.
    scope = re.search(r"incident (inc-[0-9a-f]+): (\d+) events, (\d+) customers listed "
                      r"\(as references\), ([\d,]+) rows counted only", text)
    incident = next(a["incident_id"] for a in alerts if a["action_id"] == picked.group(1))
    assert scope and scope.group(1) == incident
    # Recounted from the events file: the events the incident's actions name, and the
    # employee's events between the first and last of them.
    mine = [a for a in map(orjson.loads, lines) if a["incident_id"] == incident]
    named = {e for a in mine if a["type"] != "release" for e in a["event_ids"]}
    docs = [d for d in map(orjson.loads, (raw for _, raw in
                                          iter_lines(str(world / "events.jsonl"))))
            if isinstance(d, dict) and d.get("employee_id") == mine[0]["employee_id"]]
    when = [parse_timestamp(d["timestamp"]) for d in docs if d.get("event_id") in named]
    inside = [d for d in docs if min(when) <= (parse_timestamp(d["timestamp"]) or 0) <= max(when)]
    listed = {c["id"] for d in inside for c in d.get("customers", [])}
    unlisted = sum(max(0, d.get("record_count", 1 if d["action"] == "view" else 0)
                       - len({c["id"] for c in d.get("customers", [])})) for d in inside)
    assert int(scope.group(2)) == len(inside) > 0
    assert int(scope.group(3)) == len(listed)
    assert int(scope.group(4).replace(",", "")) == unlisted
    references = re.findall(r"'reference': '([0-9a-f]{64})'", text)
    assert len(references) == min(5, int(scope.group(3))) and len(set(references)) == len(
        references)


def test_no_customer_id_in_any_output(run: Callable[..., Run], world: Path) -> None:
    ids: set[str] = set()
    for _, raw in iter_lines(str(world / "events.jsonl")):
        ids.update(c["id"] for c in orjson.loads(raw).get("customers", []))
    assert len(ids) > 100
    for name in NAMES:
        nb, _ = run(name)
        tokens = set(re.findall(r"[\w-]+", _text(nb)))
        assert not tokens & ids, f"{name} shows customer ids"


def test_retrain_from_topics_learns_what_the_files_teach(
        run: Callable[..., Run], broker: EmbeddedBroker, world: Path, tmp_path: Path) -> None:
    """The notebook's Kafka path: the same history on three partitions, the same baselines."""
    settings = service_settings(broker, partitions=3)
    ensure_topics(settings)
    records = [raw for _, raw in iter_lines(str(world / "employees.jsonl"))]
    lines = [raw for _, raw in iter_lines(str(world / "events.jsonl"))][:6000]

    def keyed(raws: list[bytes]) -> list[tuple[bytes | None, bytes | None]]:
        return [(orjson.loads(raw)["employee_id"].encode(), raw) for raw in raws]

    produce(broker.bootstrap, settings.topics.directory, keyed(records))
    produce(broker.bootstrap, settings.topics.events, keyed(lines))
    config = tmp_path / "topics.toml"
    config.write_text(f'[topics]\nevents = "{settings.topics.events}"\n'
                      f'directory = "{settings.topics.directory}"\n')
    nb, _ = run("02_retrain_baselines", KAFKA_BOOTSTRAP=broker.bootstrap, KAFKA_IDLE_SECONDS=3.0,
                PARTITIONS=3, CONFIG=str(config), BUNDLE_PATH=str(tmp_path / "kafka.bundle"))
    assert f"directory topic: {len(records):,} records" in _text(nb)
    from_topics = bundles.load(tmp_path / "kafka.bundle")
    assert from_topics.metadata.events == len(lines)
    assert from_topics.metadata.partitions == 3 and from_topics.metadata.evaluation is None

    plain = Settings()
    directory, _, _ = load_directory(enumerate(records, 1))
    engines = bundles.partition_engines(plain, directory, 3)
    seen = replay_into(engines, enumerate(lines, 1), plain, keep_actions=False)
    first, last = seen.span
    from_files = bundles.build_bundle(engines, settings=plain, events=seen.events,
                                      first_ts=first, last_ts=last)
    assert _learned(from_topics) == _learned(from_files)


def _learned(bundle: bundles.Bundle) -> list[Any]:
    """A bundle's baselines as comparable bytes, per partition and employee.

    ``job[0]`` only caches the identity of the directory record last seen, an
    address that differs between processes; the job's hash is what is learned.
    """
    out: list[Any] = []
    for part in bundle.baselines():
        employees = {}
        for eid, b in part.employees.items():
            state = b.__getstate__()
            state["job"] = state["job"][1]
            employees[eid] = pickle.dumps(state)
        out.append((employees, {g: pickle.dumps(p) for g, p in part.peers.items()},
                    pickle.dumps(part.glob)))
    table = bundle.baselines()[0].table
    if table is not None:  # shared peers: the one fitted table, part by part
        out.append({name: pickle.dumps(getattr(table, name)) for name in (
            "groups", "folded_day", "pending", "members", "exported", "elevated")})
    return out
