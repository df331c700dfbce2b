"""A real Prometheus server (Debian's package) scrapes a running detector."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from test_service import _finished, _keyed, _wait, running

from consumers.broker import EmbeddedBroker, free_port
from consumers.topics import ensure_topics
from detector.wire.jsonl import iter_lines
from tests.kafka_kit import produce, service_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Panels whose query must return data once the test's traffic is scored.
MUST_SHOW = ("Events / s", "Consumer lag", "Throughput by action and outcome",
             "Alerts by reason", "Decision latency", "Instances up")


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def _value(port: int, promql: str) -> float | None:
    result = _query(port, promql)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_counters_the_traffic_should_produce(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is required (scripts/test.sh installs it)"
    metrics_port, prom_port = free_port(), free_port()
    s = service_settings(broker, partitions=2, metrics_port=metrics_port,
                         metrics_host="127.0.0.1")
    ensure_topics(s)
    events = [raw for _, raw in iter_lines(str(small_world / "events.jsonl"))]
    produce(broker.bootstrap, s.topics.directory,
            _keyed([raw for _, raw in iter_lines(str(small_world / "employees.jsonl"))]))
    ends = produce(broker.bootstrap, s.topics.events, [*_keyed(events), (b"E1", b"not json")])
    config = tmp_path / "prometheus.yml"
    # The shipped alert rules, evaluated every second against the live detector.
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n  - job_name: insider-detector\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    prom = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        with running(s) as svc:
            _finished(svc, s, ends)
            time.sleep(0.3)
            actions = sum(svc.stats.actions.values())
            rejects = sum(svc.stats.rejects.values())

            def scraped() -> bool:
                # Events are counted when consumed, actions when their checkpoint
                # commits: a scrape between the two shows every event and not yet
                # every action, so wait for a scrape after the last commit.
                try:
                    return (_value(prom_port, "insider_events_consumed_total") == len(events) + 1
                            and _value(prom_port, "sum(insider_actions_total)") == actions)
                except OSError:
                    return False

            _wait(scraped, timeout=60, what="Prometheus to scrape the final count")
            assert _value(prom_port, "sum(insider_actions_total)") == actions > 0
            assert _value(prom_port, "sum(insider_rejects_total)") == rejects >= 1
            assert _value(prom_port, 'insider_rejects_total{reason="not_json"}') >= 1  # type: ignore[operator]
            assert _value(prom_port, "insider_partitions_owned") == 2
            assert _value(prom_port, "up{job='insider-detector'}") == 1
            assert _value(prom_port, "insider_up") == 1
            le = _query(prom_port, "insider_score_bucket")
            assert {r["metric"]["le"] for r in le} >= {"40.0", "85.0", "+Inf"}
            assert _value(prom_port, "sum(insider_events_total)") == len(events) + 1
            assert _value(prom_port, 'sum(insider_events_total{outcome="rejected"})') == (
                svc.stats.event_rejects) >= 1
            _check_dashboard_queries(prom_port)
            _check_rules_loaded(prom_port)
    finally:
        prom.terminate()
        prom.wait(20)


def _check_dashboard_queries(port: int) -> None:
    """Every query of the shipped dashboard is valid PromQL for this Prometheus, and the
    main panels show the traffic."""
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" /
                            "insider-detector.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m")
            _query(port, expr)  # asserts status == success
            if panel["title"] in MUST_SHOW and target["refId"] == "A":
                # rate() needs two scrapes in its window.
                _wait(lambda e=expr: bool(_query(port, e)), timeout=20,  # type: ignore[misc]
                      what=f"{panel['title']}: {expr}")


def _check_rules_loaded(port: int) -> None:
    """The shipped rules load and evaluate without error; none fires on a healthy run."""
    def evaluated() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=10) as r:
            groups = json.loads(r.read())["data"]["groups"]
        return [rule for g in groups for rule in g["rules"]]

    _wait(lambda: all(r.get("lastEvaluation", "").startswith("2") and
                      not r["lastEvaluation"].startswith("0001") for r in evaluated()),
          timeout=30, what="the rules to be evaluated")
    rules = evaluated()
    assert len(rules) == 7
    for rule in rules:
        assert rule["health"] == "ok", rule
        assert rule["state"] == "inactive", rule
