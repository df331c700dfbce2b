"""Helpers for tests against the real test broker (Tansu).

Tansu writes transaction markers but leaves the aborted-transaction list of
its fetch answers empty, so a plain read-committed consumer shows records of
aborted transactions.  ``read_topic`` rebuilds that list from the markers in
each fetch, which is what Apache Kafka's broker sends, so the tests see what a
read-committed consumer of Apache Kafka would see.
"""

from __future__ import annotations

import collections
import itertools
import secrets
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.record import MemoryRecords

from consumers.broker import EmbeddedBroker, free_port
from consumers.committed_view import committed_offsets, read_to_quiet
from consumers.tcp_proxy import Proxy
from detector.settings import KafkaSettings, ServiceSettings, Settings, TopicSettings

_names = itertools.count()
_Item = TypeVar("_Item")
_AbortedTxn = collections.namedtuple("_AbortedTxn", ["producer_id", "first_offset"])


def aborted_from_markers(records: MemoryRecords) -> list[_AbortedTxn]:
    """Each aborted transaction in a fetch: its producer and its first offset."""
    copy = MemoryRecords(records._buffer)
    first: dict[int, int] = {}
    out = []
    batch = copy.next_batch()
    while batch is not None:
        if batch.magic == 2 and batch.is_transactional:
            pid = batch.producer_id
            if batch.is_control_batch:
                rec = next(iter(batch), None)
                start = first.pop(pid, None)
                if rec is not None and rec.abort and start is not None:
                    out.append(_AbortedTxn(pid, start))
            else:
                first.setdefault(pid, batch.base_offset)
        batch = copy.next_batch()
    return out


_original_init = Fetcher.PartitionRecords.__init__


def _init_with_markers(self: Any, fetch_offset: int, tp: Any, records: Any,
                       *args: Any, **kwargs: Any) -> None:
    if records is not None and not kwargs.get("aborted_transactions"):
        kwargs["aborted_transactions"] = aborted_from_markers(records)
    _original_init(self, fetch_offset, tp, records, *args, **kwargs)


@contextmanager
def markers_read_as_kafka() -> Iterator[None]:
    Fetcher.PartitionRecords.__init__ = _init_with_markers
    try:
        yield
    finally:
        Fetcher.PartitionRecords.__init__ = _original_init


def read_topic(bootstrap: str, topic: str, quiet: float = 1.5,
               committed: bool = True) -> list[Any]:
    """Every record of a topic, read until a quiet spell after the end offsets,
    transaction markers counted as Apache Kafka counts them."""
    with markers_read_as_kafka():
        return read_to_quiet(bootstrap, [topic], quiet, committed)


def produce(bootstrap: str, topic: str,
            items: Iterable[tuple[bytes | None, bytes | None]]) -> dict[int, int]:
    """Send and wait; returns partition -> offset after the last record written there."""
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    futures = []
    try:
        for key, value in items:
            futures.append(p.send(topic, key=key, value=value))
        p.flush()
    finally:
        p.close()
    ends: dict[int, int] = {}
    for f in futures:
        md = f.get(timeout=30)
        ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)
    return ends


def add_ends(into: dict[int, int], more: dict[int, int]) -> dict[int, int]:
    """Fold the ends of another ``produce`` into ``into`` (partition -> end)."""
    for p, end in more.items():
        into[p] = max(into.get(p, 0), end)
    return into


def wait_committed(
    bootstrap: str, group: str, produced: dict[str, dict[int, int]], partitions: int,
    also: Callable[[], bool] = lambda: True, timeout: float = 120.0, **client: Any,
) -> None:
    """Wait until the group's committed positions are the produced ends of every
    partition of every topic in ``produced`` (topic -> partition -> end; a partition
    not in it had nothing produced), read by a consumer of its own, and ``also``.

    The ends come from the producer's acknowledgements, not from the broker's latest
    offsets (Tansu answers the last batch's base offset + 1 for those).
    """
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      **client)
    behind: dict[tuple[str, int], tuple[int, int]] = {}
    try:
        deadline = time.monotonic() + timeout
        while True:
            if also():
                behind = {}
                for topic, ends in produced.items():
                    for p in range(partitions):
                        at = c.committed(TopicPartition(topic, p)) or 0
                        if at != ends.get(p, 0):
                            behind[(topic, p)] = (at, ends.get(p, 0))
                if not behind and also():
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for the group's commits to reach the "
                                     f"produced ends; (committed, end) behind: {behind}")
            time.sleep(0.2)
    finally:
        c.close(autocommit=False)


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    return sum(committed_offsets(bootstrap, group, topic).values())


def service_settings(
    broker: EmbeddedBroker, partitions: int = 3, **service: object
) -> Settings:
    """Settings for one test: fresh topic names and group, Tansu's quick group timings."""
    # A random part too: this module may be imported twice (as kafka_kit and as
    # tests.kafka_kit), and each copy counts from zero on the same broker.
    n = f"{next(_names)}x{secrets.token_hex(3)}"
    t = TopicSettings(
        events=f"t{n}.events", directory=f"t{n}.directory", commands=f"t{n}.commands",
        alerts=f"t{n}.alerts", freeze_commands=f"t{n}.freeze", dead_letter=f"t{n}.dlq",
        changelog=f"t{n}.changelog", peer_stats=f"t{n}.peers", partitions=partitions,
    )
    k = KafkaSettings(bootstrap_servers=broker.bootstrap, group_id=f"t{n}.group",
                      session_timeout_ms=2000, heartbeat_interval_ms=500)
    options: dict[str, object] = {"metrics_port": 0, "commit_interval_ms": 100,
                                   "transactional_id_prefix": f"t{n}", **service}
    svc = ServiceSettings(**options)  # type: ignore[arg-type]
    return Settings(kafka=k, topics=t, service=svc)


def settings_env(s: Settings) -> dict[str, str]:
    """The same settings as INSIDER_* variables, for a detector run as a process."""
    env: dict[str, str] = {}
    for section in ("kafka", "topics", "service"):
        obj = getattr(s, section)
        for name in obj.__dataclass_fields__:
            value = getattr(obj, name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            env[f"INSIDER_{section.upper()}__{name.upper()}"] = str(value)
    return env


def certificates(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    (tmp / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem")
    return tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"


@contextmanager
def tls_broker(tmp: Path) -> Iterator[tuple[EmbeddedBroker, Path]]:
    """A broker reached over TLS: Tansu speaks plain TCP, so a TLS-terminating proxy in
    front of it is the broker clients see, advertised in its metadata.  Yields the
    broker and the CA file that signed the proxy's certificate."""
    ca, cert, key = certificates(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port = free_port()
    proxy = Proxy(port, tls=ctx)
    broker = EmbeddedBroker(port=port, log=tmp / "tansu.log", advertised_port=proxy.port).start()
    try:
        yield broker, ca
    finally:
        proxy.close()
        broker.stop()


def paced(items: Sequence[_Item], per_second: float, step: int,
          send: Callable[[Sequence[_Item]], object], done: threading.Event) -> threading.Thread:
    """Hand ``items`` to ``send`` ``step`` at a time, at about ``per_second``, on a
    started daemon thread that sets ``done`` once all are sent."""
    def run() -> None:
        t0 = time.monotonic()
        for i in range(0, len(items), step):
            send(items[i:i + step])
            pause = t0 + (i + step) / per_second - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        done.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th
