"""The compliance report and incident scopes, without a browser: figures recounted
from the input files, keyed references, refusals and what must never leak."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from consumers.cli import main
from detector.report.scope import ScopeKeyError, load_key, pseudonym, resolve
from detector.wire.actions import Action, Reason
from detector.wire.ocsf import to_ocsf
from tests.reportkit import LISTED, Page, ReportWorld, number, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ReportWorld:
    return write_world(tmp_path_factory.mktemp("report-world"))


def report(world: ReportWorld, out: Path, *extra: str) -> int:
    return main(["report", "--actions", str(world.actions), "--directory", str(world.directory),
                 "--events", str(world.events), "--audit-dir", str(world.audit_dir),
                 "--audit-heads", str(world.heads), "--audit-key-file", str(world.audit_key),
                 "--output", str(out), *extra])


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]


def test_every_figure_recounts_from_the_files(world: ReportWorld, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert report(world, out) == 0
    page = Page(out.read_text())
    actions = lines(world.actions)
    kinds = Counter(str(a["type"]) for a in actions)
    locks = [a for a in actions if a["type"] == "freeze" and a.get("scope") == "data_access"]
    assert len(locks) == 1 and locks[0]["employee_id"] == "E201"
    severities = Counter(str(a["severity"]) for a in actions if a["type"] == "alert")
    releases = Counter(str(a["release_reason"]) for a in actions if a["type"] == "release")
    assert number(page.figures["alerts"]) == kinds["alert"] > 0
    for sev in ("low", "medium", "high", "critical"):
        assert number(page.figures[f"alerts-{sev}"]) == severities[sev]
    assert number(page.figures["freezes"]) == kinds["freeze"] - 1
    assert number(page.figures["offboarding-locks"]) == 1
    assert number(page.figures["locks-lifted"]) == 0
    # E100's freeze, and two of the ramping leaver's.
    assert number(page.figures["releases-ttl"]) == releases["ttl_expired"] == 3
    assert number(page.figures["releases-analyst"]) == releases["analyst"] == 1
    assert number(page.figures["releases-false-positive"]) == releases["false_positive"] == 1
    assert number(page.figures["incidents"]) == len({a["incident_id"] for a in actions})
    assert number(page.figures["events-scored"]) == len(lines(world.events))
    trail_fps = sum(1 for f in world.audit_dir.glob("*.audit.jsonl") for e in lines(f)
                    if e["kind"] == "command" and e["body"]["command"] == "false_positive")
    assert number(page.figures["false-positive-feedback"]) == trail_fps == 1
    first_alert: dict[str, float] = {}
    for a in actions:
        t = datetime.fromisoformat(str(a["event_time"])).timestamp()
        if a["type"] == "alert":
            first_alert[str(a["incident_id"])] = min(first_alert.get(str(a["incident_id"]), t), t)
    waits = [(datetime.fromisoformat(str(a["event_time"])).timestamp()
              - first_alert[str(a["incident_id"])]) / 60 for a in actions if a["type"] == "release"]
    assert float(page.figures["median-minutes-to-release"].replace(",", "")) == pytest.approx(
        statistics.median(waits), abs=0.05)
    assert sorted(page.incidents) == sorted({str(a["incident_id"]) for a in actions})
    assert "intact" in page.figures["audit-verdict"]


def test_the_period_filters_what_is_counted(world: ReportWorld, tmp_path: Path) -> None:
    actions = lines(world.actions)
    day = "2026-10-07"
    on_day = [a for a in actions if datetime.fromisoformat(str(a["event_time"]).replace(
        "Z", "+00:00")).astimezone(UTC).date().isoformat() == day]
    assert on_day and len(on_day) < len(actions)
    out = tmp_path / "day.html"
    assert report(world, out, "--from", day, "--to", day) == 0
    page = Page(out.read_text())
    assert page.figures["period"].startswith(f"{day} to {day}")
    assert number(page.figures["alerts"]) == sum(1 for a in on_day if a["type"] == "alert")
    assert number(page.figures["freezes"]) == sum(
        1 for a in on_day if a["type"] == "freeze" and a.get("scope") != "data_access")


def test_a_bad_action_line_is_named(world: ReportWorld, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    docs = lines(world.actions)
    del docs[1]["incident_id"]
    bad.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    assert main(["report", "--actions", str(bad), "--output", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "incident_id" in err
    assert not (tmp_path / "x.html").exists()


def scope_lines(world: ReportWorld, incident: str, key_file: Path,
                capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["incident", "scope", incident, "--actions", str(world.actions), "--events",
                 str(world.events), "--key-file", str(key_file)]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


def incident_of(world: ReportWorld, employee: str) -> str:
    return next(str(a["incident_id"]) for a in world.action_docs
                if a["employee_id"] == employee and a["type"] == "freeze")


def test_scope_references_are_stable_keyed_and_map_back(
        world: ReportWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_a, key_b = tmp_path / "a.key", tmp_path / "b.key"
    key_a.write_text("the CRM owner's key, version one\n")
    key_b.write_text("the CRM owner's key, version two\n")
    incident = incident_of(world, "E102")
    first = scope_lines(world, incident, key_a, capsys)
    again = scope_lines(world, incident, key_a, capsys)
    other = scope_lines(world, incident, key_b, capsys)
    refs = {str(r["reference"]) for r in first if r["record"] == "customer"}
    assert refs == {str(r["reference"]) for r in again if r["record"] == "customer"}
    assert len(refs) == len(LISTED)
    other_refs = {str(r["reference"]) for r in other if r["record"] == "customer"}
    assert len(other_refs) == len(LISTED) and not refs & other_refs
    key = load_key("", str(key_a))
    assert resolve(key, refs, sorted(world.customer_ids)) == {pseudonym(key, c): c
                                                              for c in LISTED}
    assert resolve(load_key("", str(key_b)), refs, world.customer_ids) == {}
    # The export listed 300 of its 900 rows: the other 600 are counted, not named.
    summary = next(r for r in first if r["record"] == "summary")
    assert summary["customers_listed"] == len(LISTED)
    assert summary["unlisted_rows"] == 900 - len(LISTED)
    by_territory = [r for r in first if r["record"] == "unlisted" and r["by"] == "territory"]
    assert sum(int(str(r["rows"])) for r in by_territory) == 900 - len(LISTED)


def test_scope_of_an_export_that_only_carried_counts(
        world: ReportWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.key"
    key.write_text("0123456789abcdef0123")
    records = scope_lines(world, incident_of(world, "E100"), key, capsys)
    assert not [r for r in records if r["record"] == "customer"]
    export = next(e for e in lines(world.events)
                  if e["employee_id"] == "E100" and e.get("record_count") == 4812)
    by_territory = {r["territory"]: r["rows"] for r in records
                    if r["record"] == "unlisted" and r["by"] == "territory"}
    by_tier = {r["tier"]: r["rows"] for r in records
               if r["record"] == "unlisted" and r["by"] == "tier"}
    assert by_territory == export["territories"]
    assert by_tier == export["tiers"]


def test_scope_refuses_to_run_without_a_key(world: ReportWorld, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["incident", "scope", incident_of(world, "E102"), "--actions", str(world.actions),
            "--events", str(world.events)]
    assert main(args) == 2
    err = capsys.readouterr()
    assert "no pseudonym key" in err.err and "scope_key_file" in err.err and not err.out
    short = tmp_path / "short.key"
    short.write_text("abc")
    assert main([*args, "--key-file", str(short)]) == 2
    assert "at least 16" in capsys.readouterr().err
    with pytest.raises(ScopeKeyError, match=r"(?i)no such file"):
        load_key("", str(tmp_path / "missing.key"))


def test_no_customer_id_in_report_alerts_or_logs(
        world: ReportWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every output of one run: replay's actions and alert lines, the OCSF alerts, the
    report and its log line, the scope."""
    actions = tmp_path / "actions.jsonl"
    assert main(["replay", "--events", str(world.events), "--directory", str(world.directory),
                 "--output", str(actions), "--print-alerts"]) == 0
    ocsf = [orjson.dumps(to_ocsf(Action(**{**d, "reasons": [Reason(**r) for r in d["reasons"]]}),
                                 product_version="test"))
            for d in lines(actions) if d["type"] == "alert"]
    out = tmp_path / "r.html"
    assert report(world, out) == 0
    key = tmp_path / "k.key"
    key.write_text("a key of the CRM's owner, long enough")
    scope_lines(world, incident_of(world, "E102"), key, capsys)
    logs = capsys.readouterr()
    everything = "\n".join([actions.read_text(), *(o.decode() for o in ocsf), out.read_text(),
                            logs.out, logs.err])
    assert ocsf and "E102" in everything  # the outputs are there, with employee ids
    assert len(world.customer_ids) > len(LISTED)
    leaked = [c for c in world.customer_ids
              if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", everything)]
    assert leaked == []


def test_a_bad_published_head_is_named(world: ReportWorld, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    heads = tmp_path / "heads.jsonl"
    raw = world.heads.read_bytes().splitlines()
    doc = orjson.loads(raw[1])
    doc["hash"] = "not-a-hash"
    heads.write_bytes(b"\n".join([raw[0], orjson.dumps(doc), *raw[2:]]) + b"\n")
    assert main(["report", "--actions", str(world.actions), "--audit-dir", str(world.audit_dir),
                 "--audit-heads", str(heads), "--output", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "field hash" in err
