"""The benchmarks run end to end on tiny inputs, so they never rot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import benchmarks.common as common
from benchmarks.__main__ import main
from benchmarks.baselines import METHODS
from benchmarks.plots import RECALL_VS_ALERTS
from benchmarks.profile import TOP
from benchmarks.speed import NOTES_BEGIN, NOTES_END, keep_notes

_NUMBER = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One ``all --quick`` run shared by the tests below: it is the slow part."""
    tmp = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(common, "CACHE", tmp / "cache")
        out = tmp / "benchmarks.md"
        assert main(["all", "--quick", "--out", str(out)]) == 0
        yield tmp, out.read_text()


def _section(text: str, heading: str) -> str:
    assert heading in text, heading
    rest = text.split(heading, 1)[1]
    return rest.split("\n## ", 1)[0]


def _rows(section: str) -> list[list[str]]:
    """The body rows of every table in a section, as lists of cells."""
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("|---")]


def _number(cell: str) -> float:
    found = _NUMBER.search(cell)
    assert found is not None, cell
    return float(found.group().replace(",", ""))


def test_benchmarks_run_on_tiny_inputs(quick_all: tuple[Path, str]) -> None:
    tmp, text = quick_all
    for heading in ("## Detection quality", "## Replay speed", "## State per employee",
                    "## Streaming through a broker", "## Scaling out", "## Where replay time goes"):
        assert heading in text
    assert "events/s" in text and "| scenario recall |" in text
    assert text.count("Written by `python -m benchmarks all --quick`") == 1
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
    plot = tmp / "img" / RECALL_VS_ALERTS
    assert f"](img/{RECALL_VS_ALERTS})" in text
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_every_floor_is_reported_with_its_verdict(quick_all: tuple[Path, str]) -> None:
    _, text = quick_all
    floors = {r[0]: r for r in _rows(text.split("## Detection quality", 1)[0])}
    for floor in ("replay >= 50,000 events/s", "state <= 4 KB per employee",
                  "stream >= 25,000 events/s", "stream >= 60% of raw consume",
                  "stream p99 <= 250 ms at 2,000 events/s",
                  "replay >= 25% of the orjson parse-only rate",
                  "service end to end >= 80% of replay",
                  "p99 produce-to-action <= 150 ms at 2,000 events/s",
                  "state <= 4 KB per employee (after the speed input)"):
        assert floor in floors, floor
        assert floors[floor][2] in ("yes", "**no**")


def test_scaling_section_has_a_rate_per_process_count(quick_all: tuple[Path, str]) -> None:
    _, text = quick_all
    rows = {r[0]: r for r in _rows(_section(text, "## Scaling out"))}
    assert {"1", "2"} <= set(rows)
    for n in ("1", "2"):
        rate, speedup, seconds, det_cpu = (_number(c) for c in rows[n][1:5])
        assert rate > 0 and speedup > 0 and seconds > 0 and det_cpu > 0
        assert sum(_number(e) for e in rows[n][6].split("/")) > 0
    assert _number(rows["1"][2]) == 1.0
    assert "CPUs" in text and "µs of CPU per event" in text and "Projected" in text


def test_partitions_section_has_every_count_in_both_modes(quick_all: tuple[Path, str]) -> None:
    _, text = quick_all
    rows = [r for r in _rows(_section(text, "## Decisions by partition count"))
            if r[0] in ("per partition", "shared")]
    assert {(r[0], r[1]) for r in rows} == {
        (mode, n) for mode in ("per partition", "shared") for n in ("1", "6", "12", "48")}
    shared = [r for r in rows if r[0] == "shared"]
    assert len({(r[2], r[4], r[6]) for r in shared}) == 1  # the same decisions at every count
    assert "bytes per employee and day" in text


def test_state_section_covers_replayed_and_cloned_sizes(quick_all: tuple[Path, str]) -> None:
    _, text = quick_all
    rows = _rows(_section(text, "## State per employee"))[1:]  # after the header
    assert len(rows) == 3
    assert sum("cloned" in r[1] for r in rows) == 1
    assert _number(rows[-1][0]) == 10_000
    for r in rows:
        held, pickled, rss, resident = (_number(r[i]) for i in (0, 2, 5, 6))
        assert held > 0 and pickled > 0 and rss > 0 and resident > 0
        assert r[3] == "<= 4 KB" and r[4] in ("yes", "**no**")


def test_profile_section_ranks_functions_and_splits_the_event(
    quick_all: tuple[Path, str],
) -> None:
    _, text = quick_all
    section = _section(text, "## Where replay time goes")
    own = _rows(section.split("### Top", 2)[1])
    assert own[0][0] == "function" and len(own) == TOP + 1
    for r in own[1:]:
        calls, own_s, cum_s, share = (_number(c) for c in r[2:6])
        assert calls > 0 and own_s > 0 and cum_s >= own_s and share > 0
    # parse_event's own work is mostly in C now (msgspec) and in its helper: it ranks by
    # cumulative time, with its file and line.
    cumulative = _rows(section.split("### Top", 2)[2])
    assert any("parse_event" in r[0] and r[1].startswith("detector/wire/events.py:")
               for r in cumulative)
    stages = {r[0]: _number(r[2]) for r in _rows(section.split("### Cost per event", 1)[1])[1:]}
    for stage in ("parsing", "scoring (measure + score)", "learning", "total"):
        assert stages[stage] > 0, stage
    assert stages["deciding"] >= 0
    parts = ("parsing", "scoring (measure + score)", "learning", "deciding", "directory lookup",
             "everything else")
    assert sum(stages[p] for p in parts) == pytest.approx(stages["total"], rel=0.01)


def test_one_sub_command_writes_only_its_section(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "CACHE", tmp_path / "cache")
    out = tmp_path / "profile.md"
    assert main(["profile", "--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Where replay time goes" in text and "## Detection quality" not in text
    assert "Written by `python -m benchmarks profile --quick`" in text


def test_speed_section_reports_the_ratios_of_one_input(quick_all: tuple[Path, str]) -> None:
    _, text = quick_all
    rows = {r[0]: r for r in _rows(_section(text, "## Replay speed"))}
    parse = _number(rows["read + orjson parse only (ceiling)"][1])
    replay = _number(rows["replay (parse, validate, score, decide, learn), one thread"][1])
    e2e = _number(rows["service end to end, one process, real broker"][1])
    assert parse > 0 and replay > 0 and e2e > 0
    assert _number(rows["replay / parse only"][1]) == pytest.approx(100 * replay / parse, abs=0.1)
    assert _number(rows["end to end / replay"][1]) == pytest.approx(100 * e2e / replay, abs=0.1)
    # The service figure is the streaming section's own run, not a second one.
    stream = {r[0]: r for r in _rows(_section(text, "## Streaming through a broker"))}
    assert _number(stream["end to end, one detector process (parse, score, decide, learn, "
                          "commit)"][1]) == e2e
    assert _number(rows["checkpointed state per employee"][1]) > 0
    assert any(k.startswith("produce-to-action p99") for k in rows)


def test_the_speed_notes_survive_a_rerun(tmp_path: Path) -> None:
    old = tmp_path / "benchmarks.md"
    old.write_text(f"# B\n\n## Replay speed (one core)\n\nold\n\n{NOTES_BEGIN}\nbefore: 1 "
                   f"event/s\n{NOTES_END}\n\n## Streaming\n\nold\n", encoding="utf-8")
    new = "# B\n\n## Replay speed (one core)\n\nnew\n\n## Streaming\n\nnew\n"
    kept = keep_notes(new, old)
    assert kept == (f"# B\n\n## Replay speed (one core)\n\nnew\n\n{NOTES_BEGIN}\nbefore: 1 "
                    f"event/s\n{NOTES_END}\n\n## Streaming\n\nnew\n")
    # Without a speed section (another sub-command) the text is left as it is.
    assert keep_notes("# B\n\n## Scaling out\n", old) == "# B\n\n## Scaling out\n"
