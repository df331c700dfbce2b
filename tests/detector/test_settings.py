from __future__ import annotations

from pathlib import Path

import pytest

from detector.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_equals_defaults() -> None:
    assert load_settings(ROOT / "config" / "detector.toml", {}) == Settings()


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[decisions]\nfreeze = 80\n")
    s = load_settings(cfg, {"INSIDER_DECISIONS__FREEZE": "90", "INSIDER_SCORING__MIN_ROWS": "20",
                            "UNRELATED": "x"})
    assert s.decisions.freeze == 90.0
    assert s.scoring.min_rows == 20


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"INSIDER_DECISIONS__FREZE": "80"}, "decisions.freze: unknown setting"),
        ({"INSIDER_SCORING__MIN_ROWS": "lots"}, "scoring.min_rows: expected int"),
        ({"INSIDER_DECISIONS__ALERT": "95"}, "thresholds"),
        ({"INSIDER_NOPE": "1"}, "nope: unknown setting"),
        ({"INSIDER_KAFKA__BOOTSTRAP_SERVERS": "kafka"}, "kafka.bootstrap_servers"),
        ({"INSIDER_KAFKA__BOOTSTRAP_SERVERS": " , "}, "kafka.bootstrap_servers"),
        ({"INSIDER_KAFKA__SECURITY_PROTOCOL": "TLS"}, "kafka.security_protocol"),
        ({"INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, "kafka.sasl_username"),
        ({"INSIDER_KAFKA__SASL_MECHANISM": "GSSAPI"}, "kafka.sasl_mechanism"),
        ({"INSIDER_KAFKA__HEARTBEAT_INTERVAL_MS": "9000"}, "kafka.heartbeat_interval_ms"),
        ({"INSIDER_TOPICS__ALERTS": "bad topic!"}, "topics.alerts"),
        ({"INSIDER_TOPICS__ALERTS": "crm.access-events"}, "own name"),
        ({"INSIDER_TOPICS__PARTITIONS": "0"}, "topics.partitions"),
        ({"INSIDER_SERVICE__DELIVERY": "maybe"}, "service.delivery"),
        ({"INSIDER_SERVICE__ALERT_FORMAT": "xml"}, "service.alert_format"),
        ({"INSIDER_SERVICE__COMMIT_INTERVAL_MS": "0"}, "service.commit_interval_ms"),
        ({"INSIDER_TOPICS__CREATE": "perhaps"}, "topics.create: expected bool"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(None, env)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.decisions.alert = 1  # type: ignore[misc]


def test_kafka_settings_from_the_environment_reach_the_client(tmp_path: Path) -> None:
    from consumers.kafka_options import client_options, consumer_options, producer_options

    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = load_settings(None, {
        "INSIDER_KAFKA__BOOTSTRAP_SERVERS": "k1:9093, k2:9093",
        "INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "INSIDER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "INSIDER_KAFKA__SASL_USERNAME": "detector",
        "INSIDER_KAFKA__SASL_PASSWORD_FILE": str(secret),
        "INSIDER_KAFKA__SSL_CAFILE": "/etc/ca.pem",
    })
    opts = client_options(s.kafka)
    assert opts["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    assert opts["sasl_plain_username"] == "detector"
    assert opts["sasl_plain_password"] == "s3cret"
    assert opts["ssl_cafile"] == "/etc/ca.pem"
    assert "s3cret" not in repr(s)
    assert consumer_options(s.kafka)["isolation_level"] == "read_committed"
    assert consumer_options(s.kafka)["enable_auto_commit"] is False
    assert producer_options(s.kafka)["acks"] == "all"


def test_a_missing_secret_file_names_the_setting() -> None:
    from consumers.kafka_options import client_options

    s = load_settings(None, {
        "INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "INSIDER_KAFKA__SASL_USERNAME": "detector",
        "INSIDER_KAFKA__SASL_PASSWORD_FILE": "/nonexistent/pw",
    })
    with pytest.raises(SettingsError, match=r"kafka\.sasl_password_file"):
        client_options(s.kafka)
