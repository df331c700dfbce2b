"""Fixtures shared by the tests that need a real Kafka-protocol broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.broker import EmbeddedBroker
from detector.simulator import SimConfig
from detector.simulator.writer import stream_world

# A script a test runs as a subprocess, not a module to import (--doctest-modules would).
collect_ignore = ["crash_in_commit.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test using the session's broker is marked ``broker`` (``-m "not broker"``
    runs the pure suite); tests that start a broker of their own carry the mark."""
    for item in items:
        if "broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One Tansu broker (memory storage) for the session; each test uses its own topics."""
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    b = EmbeddedBroker(log=log).start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 employees over 9 days with every insider scenario and some malformed events."""
    out = tmp_path_factory.mktemp("world")
    stream_world(SimConfig(employees=40, days=9, seed=77, malformed_rate=0.001), out)
    return out
