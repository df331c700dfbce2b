"""The report in a real browser: Debian's chromium, headless, renders the page from a
small world's actions; the visible text must hold the period, the counts of the
actions file, every incident and the audit verdict, and every plot must have drawn.

``scripts/test.sh`` installs chromium when it is missing; without it these tests
fail (they are the only check that the page renders)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from consumers.cli import main
from tests.reportkit import Page, ReportWorld, number, write_world

PLOTS = 7


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run scripts/test.sh (it installs Debian's "
                    "`chromium` package) or `apt-get install chromium`")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ReportWorld:
    return write_world(tmp_path_factory.mktemp("browser-world"))


def browse(chromium: str, page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[
        bytes]:
    """Run headless chromium on a local file with everything that would reach out turned off."""
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars", *mode,
         page.resolve().as_uri()],
        capture_output=True, check=True, timeout=180)


def render(world: ReportWorld, out: Path) -> None:
    assert main(["report", "--actions", str(world.actions), "--directory", str(world.directory),
                 "--events", str(world.events), "--audit-dir", str(world.audit_dir),
                 "--audit-heads", str(world.heads), "--audit-key-file", str(world.audit_key),
                 "--output", str(out)]) == 0


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def test_the_report_renders_with_the_actions_counts(chromium: str, world: ReportWorld,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    render(world, out)
    dom = browse(chromium, out, tmp_path / "profile", "--dump-dom").stdout.decode()
    page = Page(dom)
    # The period: the UTC days the events span.
    days = sorted(datetime.fromisoformat(str(e["timestamp"])).astimezone(UTC).date()
                  for e in lines(world.events))
    assert f"Period: {days[0].isoformat()} to {days[-1].isoformat()} (UTC)" in page.text
    actions = lines(world.actions)
    locks = sum(1 for a in actions if a["type"] == "freeze" and a.get("scope") == "data_access")
    kinds = Counter(str(a["type"]) for a in actions)
    releases = Counter(str(a["release_reason"]) for a in actions
                       if a["type"] == "release" and a.get("scope") != "data_access")
    assert f"{kinds['alert']} alerts" in page.text
    assert number(page.figures["alerts"]) == kinds["alert"]
    assert number(page.figures["freezes"]) == kinds["freeze"] - locks
    assert number(page.figures["offboarding-locks"]) == locks > 0
    assert number(page.figures["releases-ttl"]) == releases["ttl_expired"]
    assert number(page.figures["releases-analyst"]) == releases["analyst"]
    assert number(page.figures["releases-false-positive"]) == releases["false_positive"]
    assert number(page.figures["events-scored"]) == len(lines(world.events))
    # One row per incident, each naming its employee.
    incidents = {str(a["incident_id"]): str(a["employee_id"]) for a in actions}
    assert sorted(page.incidents) == sorted(incidents)
    for employee in set(incidents.values()):
        assert employee in page.text
    assert page.figures["audit-verdict"] == "every partition's chain is intact"
    assert len(page.partition_verdicts) == len(list(world.audit_dir.glob("*.audit.jsonl")))
    # Every plot drew bars.
    assert len(page.svg_marks) == PLOTS
    assert all(marks > 0 for marks in page.svg_marks), page.svg_marks


def test_the_first_page_is_not_blank(chromium: str, world: ReportWorld, tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    out = tmp_path / "report.html"
    render(world, out)
    shot = tmp_path / "shot.png"
    browse(chromium, out, tmp_path / "profile", "--window-size=1000,1400", f"--screenshot={shot}")
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1400, 1000)
    ink = (pixels.min(axis=2) < 0.5).mean()  # dark text and bars
    colour = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()  # severity colours
    assert ink > 0.01 and colour > 0.001, (ink, colour)


def test_an_altered_audit_entry_is_named(chromium: str, world: ReportWorld,
                                         tmp_path: Path) -> None:
    altered = write_world(tmp_path / "world")
    trail = sorted(altered.audit_dir.glob("*.audit.jsonl"))[0]
    raw = trail.read_bytes().splitlines(keepends=True)
    entry = orjson.loads(raw[2])
    assert entry["kind"] == "action"
    entry["body"]["severity"] = "low"  # someone plays an alert down
    raw[2] = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    trail.write_bytes(b"".join(raw))
    out = tmp_path / "report.html"
    render(altered, out)
    page = Page(browse(chromium, out, tmp_path / "profile", "--dump-dom").stdout.decode())
    assert page.figures["audit-verdict"] == "AT LEAST ONE CHAIN WAS ALTERED"
    named = [v for v in page.partition_verdicts if v.startswith("ALTERED")]
    assert len(named) == 1
    assert "line 3 (seq 2)" in named[0] and "modified" in named[0]
