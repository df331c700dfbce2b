"""kafka-python keyword arguments from the settings: connection and security."""

from __future__ import annotations

from typing import Any

from detector.settings import KafkaSettings, read_secret


def client_options(k: KafkaSettings) -> dict[str, Any]:
    """Options every client (consumer, producer, admin) shares."""
    opts: dict[str, Any] = {
        "bootstrap_servers": k.servers,
        "client_id": k.client_id,
        "security_protocol": k.security_protocol,
        "request_timeout_ms": k.request_timeout_ms,
    }
    if k.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_check_hostname"] = k.ssl_check_hostname
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(k, name):
                opts[name] = getattr(k, name)
        if k.ssl_password:
            opts["ssl_password"] = k.ssl_password
    if k.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = k.sasl_mechanism
        opts["sasl_plain_username"] = k.sasl_username
        opts["sasl_plain_password"] = read_secret(
            k.sasl_password, k.sasl_password_file, "kafka.sasl_password"
        )
    return opts


def consumer_options(k: KafkaSettings, group: bool = True) -> dict[str, Any]:
    opts = client_options(k)
    opts.update(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=k.max_poll_records,
        fetch_max_wait_ms=k.fetch_max_wait_ms,
    )
    if group:
        opts.update(
            group_id=k.group_id,
            session_timeout_ms=k.session_timeout_ms,
            heartbeat_interval_ms=k.heartbeat_interval_ms,
            max_poll_interval_ms=k.max_poll_interval_ms,
        )
    return opts


def producer_options(k: KafkaSettings) -> dict[str, Any]:
    opts = client_options(k)
    opts.update(
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        compression_type=None,
    )
    return opts
