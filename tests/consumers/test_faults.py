"""Faults between the detector and the broker, and kills of the detector itself:
whatever happens, the committed outputs are those of one uninterrupted run."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError
from test_service import (
    _finished,
    _keyed,
    _lines,
    _replayed,
    _wait,
    running,
)

from consumers.broker import EmbeddedBroker, free_port
from consumers.service import Service
from consumers.tcp_proxy import Proxy
from consumers.topics import ensure_topics
from tests.committed_view import check_committed_view
from tests.kafka_kit import (
    add_ends,
    certificates,
    committed_total,
    service_settings,
    tls_broker,
)

pytestmark = pytest.mark.broker  # every test here starts a Tansu broker

PARTITIONS = 3


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, Proxy]]:
    """A broker that every client reaches through the fault-injecting proxy."""
    port = free_port()
    proxy = Proxy(port)
    broker = EmbeddedBroker(port=port, log=tmp_path / "tansu.log",
                            advertised_port=proxy.port).start()
    try:
        yield broker, proxy
    finally:
        proxy.close()
        broker.stop()


def _send(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes | None]],
          ends: dict[int, int] | None = None, **client: Any) -> dict[int, int]:
    """Idempotent sends: retries across the injected faults write each record once.
    Returns (and folds into ``ends``) partition -> offset after its last record."""
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                      linger_ms=5, retries=50, retry_backoff_ms=200,
                      request_timeout_ms=10_000, **client)
    out = {} if ends is None else ends
    try:
        futures = [p.send(topic, key=k, value=v) for k, v in items]
        p.flush(timeout=120)
        for f in futures:
            md = f.get(timeout=60)
            add_ends(out, {md.partition: md.offset + 1})
    finally:
        p.close(timeout=10)
    return out


def test_resets_stalls_and_outages_lose_nothing_and_duplicate_nothing(
    proxied: tuple[EmbeddedBroker, Proxy], small_world: Path
) -> None:
    broker, proxy = proxied
    s = service_settings(broker, partitions=PARTITIONS)
    # A request whose answer a fault swallowed is given up after 5 s, not 30.
    s = dataclasses.replace(s, kafka=dataclasses.replace(s.kafka, request_timeout_ms=5000))
    ensure_topics(s)
    events = _lines(small_world / "events.jsonl")
    want = _replayed(small_world, events, PARTITIONS)
    _send(broker.bootstrap, s.topics.directory, _keyed(_lines(small_world / "employees.jsonl")))
    faults: list[str] = []
    rng = random.Random(7)
    ends: dict[int, int] = {}
    with running(s) as svc:
        # Faults start once the group has formed: they are about the stream, and
        # Tansu's group coordinator does not always recover from a join cut short.
        _wait(lambda: svc.ready() and len(svc.tasks) == PARTITIONS, what="the group")
        for i in range(8):  # the stream in 8 slices, a fault during each
            part = events[i * len(events) // 8:(i + 1) * len(events) // 8]
            sender = threading.Thread(target=_send, args=(broker.bootstrap, s.topics.events,
                                                          _keyed(part), ends))
            sender.start()
            time.sleep(rng.uniform(0.2, 0.8))
            kind = ("reset", "stall", "outage")[i % 3]
            if kind == "reset":
                proxy.reset_all()
            elif kind == "stall":
                proxy.stall(rng.uniform(1.0, 3.0))
            else:
                proxy.outage(rng.uniform(1.0, 3.0))
            faults.append(kind)
            sender.join(180)
            assert not sender.is_alive()
        _finished(svc, s, ends, timeout=180)
    assert len(faults) == 8 and proxy.resets >= 5
    # A fault can abort a checkpoint's transaction, whose records Tansu still serves
    # to read-committed readers: duplicates only inside transactions shown aborted.
    check_committed_view(broker.bootstrap, s, want)
    assert committed_total(broker.bootstrap, s.kafka.group_id, s.topics.events) == len(events)


def test_the_service_runs_over_tls_and_refuses_an_unknown_certificate(
    tmp_path: Path, small_world: Path
) -> None:
    """Tansu speaks plain TCP; a TLS-terminating proxy in front of it is the broker the
    detector sees, advertised in the broker's metadata."""
    with tls_broker(tmp_path) as (broker, ca):
        plain = service_settings(broker, partitions=2)
        s = dataclasses.replace(plain, kafka=dataclasses.replace(
            plain.kafka, security_protocol="SSL", ssl_cafile=str(ca)))
        events = _lines(small_world / "events.jsonl")[:3000]
        with running(s) as svc:  # creates the topics, over TLS
            _wait(lambda: svc.ready() and len(svc.tasks) == 2, what="ready over TLS")
            tls: dict[str, Any] = {"security_protocol": "SSL", "ssl_cafile": str(ca)}
            ends = _send(broker.bootstrap, s.topics.events, _keyed(events), **tls)
            _finished(svc, s, ends, **tls)
        # A detector that does not trust the broker's certificate does not connect.
        (tmp_path / "other").mkdir()
        other_ca, _, _ = certificates(tmp_path / "other")
        untrusting = dataclasses.replace(s, kafka=dataclasses.replace(
            s.kafka, ssl_cafile=str(other_ca), request_timeout_ms=3000))
        with pytest.raises(KafkaError):
            Service(untrusting).run()
