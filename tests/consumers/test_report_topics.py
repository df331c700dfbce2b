"""``insider-detector report --bootstrap`` against the real test broker (Tansu): alerts
(as OCSF), freezes, releases and audit heads read from the topics make the same report
as the files they were published from.

Tansu sends no aborted-transaction list, so a read-committed consumer here also sees
aborted records; that the report skips them rests on Kafka's read_committed, which the
reader asks for (``consumers.kafka_options``), and is not shown here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from consumers.broker import EmbeddedBroker
from consumers.cli import main
from consumers.topics import ensure_topics
from detector.wire.actions import Action, Reason
from detector.wire.ocsf import to_ocsf
from tests.kafka_kit import produce, service_settings, settings_env
from tests.reportkit import Page, write_world


def test_report_from_the_topics_matches_the_files(broker: EmbeddedBroker, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    world = write_world(tmp_path / "world")
    s = service_settings(broker, partitions=2)
    s = dataclasses.replace(s, topics=dataclasses.replace(
        s.topics, audit_heads=f"{s.topics.alerts}.heads"))
    ensure_topics(s)
    for name, value in settings_env(s).items():
        monkeypatch.setenv(name, value)
    alerts, commands = [], []
    for doc in world.action_docs:
        key = str(doc["employee_id"]).encode()
        if doc["type"] == "alert":
            action = Action(**{**doc, "reasons": [Reason(**r) for r in doc["reasons"]]})
            alerts.append((key, orjson.dumps(to_ocsf(action, product_version="test"))))
        else:
            commands.append((key, orjson.dumps(doc)))
    produce(broker.bootstrap, s.topics.alerts, alerts)
    produce(broker.bootstrap, s.topics.freeze_commands, commands)
    produce(broker.bootstrap, s.topics.audit_heads,
            [(str(orjson.loads(line)["partition"]).encode(), line)
             for line in world.heads.read_bytes().splitlines()])

    common = ["--directory", str(world.directory), "--events", str(world.events),
              "--audit-dir", str(world.audit_dir), "--audit-key-file", str(world.audit_key)]
    from_topics, from_files = tmp_path / "topics.html", tmp_path / "files.html"
    assert main(["report", "--bootstrap", broker.bootstrap, *common,
                 "--output", str(from_topics)]) == 0
    assert main(["report", "--actions", str(world.actions), "--audit-heads", str(world.heads),
                 *common, "--output", str(from_files)]) == 0
    topics_page, files_page = Page(from_topics.read_text()), Page(from_files.read_text())
    assert int(topics_page.figures["alerts"]) == len(alerts) > 0
    assert topics_page.figures == files_page.figures
    assert sorted(topics_page.incidents) == sorted(files_page.incidents)
    assert topics_page.partition_verdicts == files_page.partition_verdicts
    assert topics_page.figures["audit-verdict"] == "every partition's chain is intact"
    # The published heads read from the topic are shown, hashes and all.
    for line in world.heads.read_bytes().splitlines()[-2:]:
        assert orjson.loads(line)["hash"] in topics_page.text
