"""The security team's CLI and the service's logs, against a real broker (Tansu).

One service run over the small world feeds every test here: ``alerts tail``
must show what it published, ``release`` and ``feedback`` must land commands
the service applies, and its JSON log lines must say what it did without a
customer in them.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_service import _finished, _loaded, _wait, running

from consumers import logs
from consumers.analyst import alert_line, native_view
from consumers.broker import EmbeddedBroker
from consumers.cli import main
from consumers.feed import employee_key_of, simulate
from detector.partitioning import partition_for
from detector.settings import Settings
from detector.wire.actions import Action, Reason
from detector.wire.commands import parse_command
from detector.wire.ocsf import to_ocsf
from tests.kafka_kit import read_topic, service_settings, settings_env

CUSTOMER_ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')


@dataclass
class Run:
    settings: Settings
    alerts: list[dict[str, Any]]
    freezes: list[dict[str, Any]]
    log_lines: list[dict[str, Any]]
    customer_ids: set[str]
    commands_seen: int


@pytest.fixture(scope="module")
def run(broker: EmbeddedBroker, small_world: Path) -> Iterator[Run]:
    s, events, ends = _loaded(broker, small_world, 3)
    customers = {m.decode() for raw in events for m in CUSTOMER_ID.findall(raw)
                 if m.startswith(b"C-")}
    stream = io.StringIO()
    logs.setup("INFO", stream)
    try:
        with running(s) as svc:
            _finished(svc, s, ends)
            commands = svc.stats.commands
    finally:
        logging.getLogger("insider").handlers.clear()
    alerts = [orjson.loads(m.value) for m in read_topic(broker.bootstrap, s.topics.alerts)]
    freezes = [orjson.loads(m.value)
               for m in read_topic(broker.bootstrap, s.topics.freeze_commands)]
    lines = [orjson.loads(x) for x in stream.getvalue().splitlines() if x.strip()]
    yield Run(s, alerts, freezes, lines, customers, commands)


@pytest.fixture
def env(run: Run, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for k, v in settings_env(run.settings).items():
        monkeypatch.setenv(k, v)
    return run.settings


def test_alerts_tail_shows_every_published_alert_readably(
    run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.alerts, "the small world should raise alerts"
    rc = main(["alerts", "tail", "--from-beginning", "--colour", "never",
               "--max", str(len(run.alerts)), "--timeout", "20"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert len(out) == len(run.alerts)
    by_id = {a["action_id"]: a for a in run.alerts}
    for line in out:
        action_id = line.rsplit("id=", 1)[1]
        a = by_id.pop(action_id)
        assert a["severity"] in line and a["employee_id"] in line
        assert f"score {a['score']}" in line
        for r in a["reasons"]:
            assert r["code"] in line
        assert "\033[" not in line
    assert not by_id, "every alert shown once"
    text = "\n".join(out)
    assert not any(c in text for c in run.customer_ids)


def test_alerts_tail_filters_by_severity_and_colours_on_request(
    run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    serious = [a for a in run.alerts if a["severity"] in ("high", "critical")]
    assert serious and len(serious) < len(run.alerts), "need both kinds to tell a filter"
    rc = main(["alerts", "tail", "--from-beginning", "--severity", "high", "--colour", "always",
               "--timeout", "6"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert len(out) == len(serious)
    assert all(line.startswith(tuple("0123456789")) for line in out)
    assert all("\033[31m" in line or "\033[1;31m" in line for line in out)


def test_alerts_tail_with_freezes_as_json(
    run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    want = len(run.alerts) + len(run.freezes)
    assert run.freezes, "the small world should freeze someone"
    rc = main(["alerts", "tail", "--from-beginning", "--with-freezes", "--json",
               "--max", str(want), "--timeout", "20"])
    got = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 0
    assert sorted(a["action_id"] for a in got) == sorted(
        a["action_id"] for a in run.alerts + run.freezes)


def test_ocsf_alerts_read_like_native_ones() -> None:
    act = Action("alert-1", "alert", "E1", "2026-10-05T10:00:00Z", "2026-10-05T10:00:01Z",
                 "high", 82, [Reason("off_hours_export", "exported at 03:00", 40.0)],
                 ["ev-1"], "inc-1", summary="400 rows out at 03:00")
    native = alert_line(act.to_dict(), colour=False)
    ocsf = alert_line(to_ocsf(act, product_version="t"), colour=False)
    assert native == ocsf
    assert native_view(to_ocsf(act, product_version="t"))["score"] == 82


def test_release_lands_on_the_employees_partition_and_is_applied(
    broker: EmbeddedBroker, run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    employee = run.freezes[0]["employee_id"]
    rc = main(["release", employee, "--reason", "checked with the manager",
               "--analyst", "sec-42"])
    assert rc == 0
    assert "sent release for " + employee in capsys.readouterr().out
    msgs = read_topic(broker.bootstrap, env.topics.commands)
    mine = [m for m in msgs if m.key == employee.encode()]
    assert len(mine) == 1
    cmd = parse_command(mine[0].value)
    assert (cmd.command, cmd.employee_id, cmd.reason, cmd.analyst) == (
        "release", employee, "checked with the manager", "sec-42")
    assert mine[0].partition == partition_for(employee, env.topics.partitions)
    with running(env) as svc:
        _wait(lambda: svc.stats.commands >= run.commands_seen + 1, what="command applied")


def test_feedback_finds_the_alerts_employee_by_action_id(
    broker: EmbeddedBroker, run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = run.alerts[-1]
    rc = main(["feedback", alert["action_id"], "false-positive", "--reason", "known project"])
    assert rc == 0, capsys.readouterr().err
    msgs = [m for m in read_topic(broker.bootstrap, env.topics.commands)
            if parse_command(m.value).command == "false_positive"]
    assert len(msgs) == 1
    cmd = parse_command(msgs[0].value)
    assert (cmd.employee_id, cmd.action_id) == (alert["employee_id"], alert["action_id"])


def test_feedback_on_an_unknown_action_says_so(
    run: Run, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["feedback", "alert-000000000000000000000000", "false-positive"])
    assert rc == 1
    assert "no alert with action_id alert-000000000000000000000000" in capsys.readouterr().err


def test_unreachable_broker_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INSIDER_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("INSIDER_KAFKA__REQUEST_TIMEOUT_MS", "2000")
    rc = main(["release", "E1", "--reason", "x"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: ") and "Traceback" not in err


def test_service_logs_one_json_line_per_notable_event_and_no_customer(run: Run) -> None:
    by_msg: dict[str, list[dict[str, Any]]] = {}
    for line in run.log_lines:
        assert {"ts", "level", "logger", "msg"} <= set(line)
        by_msg.setdefault(line["msg"], []).append(line)
    for msg in ("directory loaded", "started", "partitions assigned", "state restored",
                "stopped", "rejected"):
        assert msg in by_msg, msg
    assert sorted(x["action_id"] for x in by_msg["alert"]) == sorted(
        a["action_id"] for a in run.alerts)
    freezes = [a for a in run.freezes if a["type"] == "freeze"]
    assert sorted(x["action_id"] for x in by_msg["freeze"]) == sorted(
        a["action_id"] for a in freezes)
    assert all(x["level"] == "warning" for x in by_msg["freeze"])
    releases = [a for a in run.freezes if a["type"] == "release"]
    assert sorted(x["action_id"] for x in by_msg.get("release", [])) == sorted(
        a["action_id"] for a in releases)
    for x in by_msg["alert"]:
        assert x["reasons"] and all(isinstance(c, str) for c in x["reasons"])
    text = orjson.dumps(run.log_lines).decode()
    leaked = [c for c in run.customer_ids if c in text]
    assert not leaked


def test_log_level_comes_from_the_settings() -> None:
    stream = io.StringIO()
    logs.setup("WARNING", stream)
    try:
        log = logging.getLogger("insider.service")
        log.info("started")
        log.warning("freeze", extra={"employee_id": "E1"})
    finally:
        logging.getLogger("insider").handlers.clear()
    lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
    assert [x["msg"] for x in lines] == ["freeze"]
    assert lines[0]["employee_id"] == "E1"


def test_feed_sends_a_simulated_world_to_the_configured_topics(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    s = service_settings(broker, partitions=2)
    for k, v in settings_env(s).items():
        monkeypatch.setenv(k, v)
    rc = main(["feed", "--employees", "12", "--history-days", "3", "--seconds", "2",
               "--seed", "5"])
    assert rc == 0

    world = simulate(12, 3, 5, tmp_path)  # the same seed gives the same world
    assert world.live and world.history
    events = read_topic(broker.bootstrap, s.topics.events)
    directory = read_topic(broker.bootstrap, s.topics.directory)
    assert len(directory) == len(world.employees)
    assert [m.value for m in events if m.partition == 0 and m.key is not None] == [
        raw for raw in world.history + world.live
        if (key := employee_key_of(raw)) is not None and partition_for(key.decode(), 2) == 0]
    assert len(events) == world.events
    assert f"sent {len(world.employees)} directory records" in capsys.readouterr().err

