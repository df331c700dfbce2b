"""The shipped operations files: compose stack, Dockerfile, Prometheus rules, dashboard.

CI has no Docker engine, so the compose file is checked by reading it: every
service's image or build context, command, ports and mounted files must exist
and agree with the detector's settings and CLI.  The Prometheus rules are
checked and unit-tested by the real ``promtool``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from consumers.cli import build_parser
from consumers.metrics import ServiceCollector
from consumers.service import Service
from consumers.topics import topic_specs
from detector.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "insider-detector.json").read_text())
RULES = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
METRIC = re.compile(r"\binsider_[a-z_]+\b")


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: install Debian's prometheus package (scripts/test.sh does)"
    return path


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    # ${VAR:-default} is what compose substitutes when VAR is unset.
    return {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}


def _compose_settings(service: str = "detector") -> Settings:
    command = SERVICES[service]["command"]
    config = command[command.index("--config") + 1] if "--config" in command else None
    local = None
    if config is not None:
        assert config.startswith("/app/"), "config is read from the image's /app"
        local = str(ROOT / config.removeprefix("/app/"))
    return load_settings(local, _env(service))


def _bind_mounts(service: str) -> list[tuple[Path, str]]:
    out = []
    for v in SERVICES[service].get("volumes", []):
        source, target = v.split(":")[:2]
        assert source.startswith("./"), f"{service}: {v} should be a file of the repo"
        out.append((ROOT / source, target))
    return out


def _exported_metric_names() -> set[str]:
    """Every sample name the detector's /metrics can show, with labelled families filled."""
    svc = Service(Settings())
    try:
        st = svc.stats
        st.rejects["missing_field"] = 1
        st.event_rejects = 1
        st.outcomes[("export", "suspicious")] = 1
        st.alerts[("high", "off_hours")] = 1
        st.actions["freeze"] = 1
        st.releases["ttl_expired"] = 1
        st.lag[0] = 1
        registry = CollectorRegistry()
        registry.register(ServiceCollector(svc))
        text = generate_latest(registry).decode()
    finally:
        svc.close()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")}


# -- compose ------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build_context_that_exists() -> None:
    assert set(SERVICES) >= {"kafka", "topic-init", "detector", "simulator", "prometheus",
                             "grafana"}
    for name, svc in SERVICES.items():
        assert "image" in svc or "build" in svc, name
        if "build" in svc:
            context = ROOT / svc["build"]["context"]
            assert (context / svc["build"].get("dockerfile", "Dockerfile")).is_file(), name
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["simulator"]["image"] == SERVICES["detector"]["image"]


def test_kafka_runs_in_kraft_mode_and_advertises_what_the_detector_dials() -> None:
    env = _env("kafka")
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert "ZOOKEEPER" not in " ".join(env).upper()
    advertised = dict(x.split("://") for x in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    # Transactions need their state topic; one broker can only hold one replica.
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    for service in ("detector", "simulator"):
        assert _compose_settings(service).kafka.bootstrap_servers == internal
    assert _env("topic-init")["BOOTSTRAP"] == internal
    host_port = advertised["EXTERNAL"].rsplit(":", 1)[1]
    assert f"{host_port}:{host_port}" in SERVICES["kafka"]["ports"]


def test_every_mounted_file_exists() -> None:
    for name in SERVICES:
        for source, _ in _bind_mounts(name):
            assert source.exists(), f"{name}: {source} does not exist"


def test_commands_parse_with_the_detectors_own_cli() -> None:
    parser = build_parser()
    for name in ("detector", "simulator"):
        args = parser.parse_args(SERVICES[name]["command"])
        assert callable(args.func), name
    assert parser.parse_args(SERVICES["detector"]["command"]).command == "run"
    assert parser.parse_args(SERVICES["simulator"]["command"]).command == "feed"
    dockerfile = (ROOT / "Dockerfile").read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    assert entry == ["insider-detector"]
    assert parser.parse_args(cmd).command == "run"


def test_detector_settings_from_compose_are_valid_and_ports_agree() -> None:
    s = _compose_settings()
    assert s.topics.create is False, "topics come from the initialiser"
    port = s.service.metrics_port
    assert f"{port}:{port}" in SERVICES["detector"]["ports"]
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text()
    assert f"127.0.0.1:{port}/healthz" in (ROOT / "Dockerfile").read_text()
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]]
    assert f"detector:{port}" in targets
    assert any(j["job_name"] == "insider-detector" for j in scrape["scrape_configs"])


def test_dockerfile_copies_what_exists_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for src in sources.split():
            assert (ROOT / src).exists(), src
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    config = _compose_settings()  # the file the image's CMD reads is copied in
    assert "COPY config ./config" in text and config is not None


def test_topic_initialiser_creates_what_the_detector_expects() -> None:
    s = _compose_settings()
    script = (DEPLOY / "kafka" / "create-topics.sh").read_text()
    mounts = dict((t, src) for src, t in _bind_mounts("topic-init"))
    entry = SERVICES["topic-init"]["entrypoint"]
    assert entry[-1] in mounts and mounts[entry[-1]].name == "create-topics.sh"
    created = {}
    for line in script.splitlines():
        if not line.startswith("create "):
            continue
        parts = shlex.split(line)
        if parts:
            configs = dict(c.split("=") for c in parts[3:])
            created[parts[1]] = (int(parts[2]), configs)
    assert created == topic_specs(s)
    assert SERVICES["detector"]["depends_on"]["topic-init"]["condition"] == (
        "service_completed_successfully")


def test_grafana_is_provisioned_with_the_prometheus_of_the_stack_and_the_dashboard() -> None:
    mounts = {t: src for src, t in _bind_mounts("grafana")}
    prov = mounts["/etc/grafana/provisioning"]
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    prom_port = SERVICES["prometheus"]["ports"][0].split(":")[1]
    assert ds["url"] == f"http://prometheus:{prom_port}"
    providers = yaml.safe_load((prov / "dashboards" / "dashboards.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert (mounts[path] / "insider-detector.json").is_file()
    uids = {p["datasource"]["uid"] for p in DASHBOARD["panels"]}
    assert uids == {ds["uid"]}
    prom_mounts = {t: src for src, t in _bind_mounts("prometheus")}
    config = SERVICES["prometheus"]["command"][0].split("=", 1)[1]
    folder, name = config.rsplit("/", 1)
    assert (prom_mounts[folder] / name).is_file()


# -- dashboard and rules ----------------------------------------------------------------


def test_dashboard_has_the_panels_on_call_needs() -> None:
    titles = " | ".join(p["title"] for p in DASHBOARD["panels"]).lower()
    for want in ("throughput", "lag", "alerts by reason", "active freezes", "latency"):
        assert want in titles, want
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_and_rules_only_use_metrics_the_detector_exports() -> None:
    exported = _exported_metric_names()
    used = set()
    for p in DASHBOARD["panels"]:
        for t in p["targets"]:
            used |= set(METRIC.findall(t["expr"]))
    for rule in RULES["groups"][0]["rules"]:
        used |= set(METRIC.findall(rule["expr"]))
    assert used, "no metric referenced"
    assert used <= exported, sorted(used - exported)
    assert not any(n.startswith("insider_") and ("employee" in n and "tracked" not in n)
                   for n in exported)


def test_alert_rules_cover_the_failures_on_call_must_hear_about() -> None:
    names = {r["alert"] for g in RULES["groups"] for r in g["rules"]}
    assert names >= {"InsiderDetectorDown", "InsiderDetectorLagGrowing",
                     "InsiderDetectorDeadLetterRate", "InsiderDetectorFreezeSpike",
                     "InsiderDetectorCheckpointStale"}
    for g in RULES["groups"]:
        for r in g["rules"]:
            assert r["labels"]["severity"] in ("warning", "critical")
            assert r["annotations"]["summary"]


def test_promtool_checks_the_rules_and_the_scrape_config() -> None:
    promtool = _promtool()
    rules = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=DEPLOY / "prometheus",
                           capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 7 rules found" in rules.stdout
    config = subprocess.run([promtool, "check", "config", "prometheus.yml"],
                            cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    """alerts_test.yml feeds series to each rule and says when it must and must not fire."""
    out = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"],
                         cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_rule_unit_tests_exercise_every_rule() -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts_test.yml").read_text())["tests"]
    exercised = {t["alertname"] for case in tests for t in case["alert_rule_test"]
                 if t["exp_alerts"]}
    names = {r["alert"] for g in RULES["groups"] for r in g["rules"]}
    assert exercised == names


@pytest.mark.parametrize("broken", ["expr: up{job=", "for: ten minutes"])
def test_promtool_would_catch_a_broken_rule(tmp_path: Path, broken: str) -> None:
    """The check above can fail: a damaged copy of the rules is refused."""
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    key = broken.split(":")[0]
    text = re.sub(rf"^(\s+){key}: .*$", lambda m: m.group(1) + broken, text, count=1,
                  flags=re.M)
    (tmp_path / "alerts.yml").write_text(text)
    out = subprocess.run([_promtool(), "check", "rules", "alerts.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
