"""SASL and TLS: what the test broker can check, and the product's side of both.

Tansu 0.6 with ``--authentication`` requires SASL and offers SCRAM-SHA-256 and
SCRAM-SHA-512, but its users cannot be created on such a broker (``tansu user
create`` is refused: not authenticated), and users created on a broker without
it are not there after a restart with it (see SECURITY.md).  So a successful
SCRAM login cannot be shown here; a refused one can, with both mechanisms, and
the message the operator then reads is checked.  Tansu's own TLS (``--cert``)
does not encrypt its listener, so TLS runs through the terminating proxy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

from consumers.broker import EmbeddedBroker, free_port, tansu_binary
from consumers.connect_errors import explain
from consumers.kafka_options import client_options, consumer_options, producer_options
from detector.settings import SettingsError, load_settings
from tests.kafka_kit import certificates, tls_broker

ROOT = Path(__file__).resolve().parents[2]
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@pytest.fixture
def authenticating(tmp_path: Path) -> Iterator[int]:
    """A Tansu broker that requires SASL authentication; yields its port."""
    port = free_port()
    with open(tmp_path / "tansu-auth.log", "ab") as log:
        proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
             "--storage-engine", "memory://tansu/", "--authentication"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "Tansu exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "Tansu did not listen"
                time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "INSIDER_KAFKA__REQUEST_TIMEOUT_MS": "3000",
            "INSIDER_SERVICE__METRICS_PORT": "0", **env}
    return subprocess.run([sys.executable, "-m", "consumers.cli", "run"], env=full,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.broker
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_refused_scram_credentials_stop_the_service_with_a_message_naming_them(
    authenticating: int, mechanism: str
) -> None:
    proc = _run({"INSIDER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{authenticating}",
                 "INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                 "INSIDER_KAFKA__SASL_MECHANISM": mechanism,
                 "INSIDER_KAFKA__SASL_USERNAME": "detector",
                 "INSIDER_KAFKA__SASL_PASSWORD": "not-the-password"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert (f"error: kafka.sasl_username: the broker at 127.0.0.1:{authenticating} refused "
            f"{mechanism} authentication as 'detector'") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "not-the-password" not in proc.stderr + proc.stdout


def test_sasl_against_a_listener_without_it_names_the_mechanism(
    broker: EmbeddedBroker,
) -> None:
    proc = _run({"INSIDER_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
                 "INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                 "INSIDER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
                 "INSIDER_KAFKA__SASL_USERNAME": "detector",
                 "INSIDER_KAFKA__SASL_PASSWORD": "not-the-password"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert (f"error: kafka.sasl_mechanism: the broker at {broker.bootstrap} does not accept "
            "SCRAM-SHA-512") in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_scram_settings_reach_every_kafka_python_client(tmp_path: Path, mechanism: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = load_settings(None, {"INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
                             "INSIDER_KAFKA__SASL_MECHANISM": mechanism,
                             "INSIDER_KAFKA__SASL_USERNAME": "detector",
                             "INSIDER_KAFKA__SASL_PASSWORD_FILE": str(secret),
                             "INSIDER_KAFKA__SSL_CAFILE": str(tmp_path / "ca.pem")})
    for opts in (client_options(s.kafka), consumer_options(s.kafka), producer_options(s.kafka)):
        assert opts["security_protocol"] == "SASL_SSL"
        assert opts["sasl_mechanism"] == mechanism
        assert opts["sasl_plain_username"] == "detector"
        assert opts["sasl_plain_password"] == "s3cret"
        assert opts["ssl_cafile"] == str(tmp_path / "ca.pem")
    assert "s3cret" not in repr(s)


def test_an_unknown_sasl_mechanism_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"kafka\.sasl_mechanism"):
        load_settings(None, {"INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
                             "INSIDER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-1",
                             "INSIDER_KAFKA__SASL_USERNAME": "detector"})


@pytest.mark.broker
def test_an_untrusted_broker_certificate_stops_the_service_with_a_message(
    tmp_path: Path,
) -> None:
    with tls_broker(tmp_path) as (broker, _):
        (tmp_path / "other").mkdir()
        other_ca, _, _ = certificates(tmp_path / "other")
        proc = _run({"INSIDER_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
                     "INSIDER_KAFKA__SECURITY_PROTOCOL": "SSL",
                     "INSIDER_KAFKA__SSL_CAFILE": str(other_ca)})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert (f"error: kafka.ssl_cafile: the certificate of the broker at {broker.bootstrap} "
            "is not trusted") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_apache_kafkas_authentication_failure_is_explained_without_the_password() -> None:
    """Apache Kafka answers bad credentials with SASL_AUTHENTICATION_FAILED, which
    kafka-python raises as SaslAuthenticationFailedError."""
    s = load_settings(None, {"INSIDER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
                             "INSIDER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
                             "INSIDER_KAFKA__SASL_USERNAME": "detector",
                             "INSIDER_KAFKA__SASL_PASSWORD": "hunter2"})
    refused = SaslAuthenticationFailedError("Authentication failed during authentication "
                                            "due to invalid credentials with SASL mechanism")
    why = explain(refused, s.kafka)
    assert why is not None and why.startswith("kafka.sasl_username:")
    assert "SCRAM-SHA-512" in why and "hunter2" not in why
    assert explain(KafkaTimeoutError("Unable to bootstrap"), s.kafka) is None
