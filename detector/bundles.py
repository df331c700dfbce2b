"""Bundles as the core uses them: capture what engines learned, give it to engines.

The file format and its checks are ``models.bundle``; this module adds what
needs an ``Engine`` and the settings, through the engine's narrow state API
(``export_baselines``, ``adopt_baselines``).  The format's functions are
re-exported, so callers need one import for bundles.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from detector import __version__
from detector.directory import Directory
from detector.engine import Engine
from detector.partitioning import owner
from detector.settings import Settings, read_secret
from models.baseline import Baselines
from models.bundle import (
    DEFAULT_PUBLISH_DIR,
    FORMAT,
    MAGIC,
    PUBLISHED_NAME,
    Bundle,
    BundleError,
    BundleInfo,
    Metadata,
    bundle_version,
    decode,
    describe,
    encode,
    iso_utc,
    load,
    pack,
    publish,
    read,
    save,
    write_atomic,
)
from models.peer_table import PeerTable


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings that shape what is learned and decided, as plain JSON.

    Connection, topic and service settings are left out: they say nothing
    about the baselines and may hold secrets.
    """
    return {
        "scoring": dataclasses.asdict(settings.scoring),
        "decisions": dataclasses.asdict(settings.decisions),
        "input": dataclasses.asdict(settings.input),
        "model_version": settings.model_version,
    }


def signing_key(settings: Settings) -> bytes | None:
    """The key that signs bundles: the one that signs the service's state."""
    secret = read_secret(settings.service.state_key, settings.service.state_key_file,
                         "service.state_key")
    return secret.encode() if secret else None


def build_bundle(
    engines: Engine | Iterable[Engine],
    *,
    settings: Settings,
    events: int,
    first_ts: float | None,
    last_ts: float | None,
    evaluation: Mapping[str, Any] | None = None,
    notes: str = "",
    created_at: float | None = None,
) -> Bundle:
    """Capture what ``engines`` (one per partition) have learned, as of now.

    The state is pickled at once, so the engines may go on learning without
    changing the bundle.
    """
    parts = [engines] if isinstance(engines, Engine) else list(engines)
    return pack([e.export_baselines() for e in parts], settings=settings_record(settings),
                detector_version=__version__, events=events, first_ts=first_ts,
                last_ts=last_ts, evaluation=evaluation, notes=notes, created_at=created_at)


def apply_baselines(
    part: Baselines, engine: Engine, only: Callable[[str], bool] | None = None
) -> int:
    """Give ``engine`` one partition's baselines (see :func:`apply_to`)."""
    return engine.adopt_baselines(part, only)


def apply_to(
    bundle: Bundle,
    engine: Engine,
    partition: int = 0,
    only: Callable[[str], bool] | None = None,
) -> int:
    """Give ``engine`` the bundle's baselines; return how many employees it got.

    Employees, peer groups and the global baseline the bundle knows replace
    the engine's; employees it does not know keep theirs, and incidents,
    freezes and analysts' verdicts stay as they are: a bundle carries what
    was learned, not what was decided.  ``only`` keeps the employees an
    engine is responsible for (a service task's partition).
    """
    parts = bundle.baselines()
    if not 0 <= partition < len(parts):
        raise BundleError(f"bundle has {len(parts)} partition(s), not partition {partition}")
    return engine.adopt_baselines(parts[partition], only)


def engine_from(
    bundle: Bundle,
    settings: Settings,
    directory: Directory,
    clock: Callable[[], float] = time.time,
    partition: int = 0,
) -> Engine:
    """A new engine starting from one partition of the bundle."""
    engine = Engine(settings, directory, clock)
    apply_to(bundle, engine, partition)
    return engine


def partition_engines(
    settings: Settings, directory: Directory, partitions: int,
    clock: Callable[[], float] = time.time,
) -> list[Engine]:
    """One engine per partition, each locking only the leavers of its own
    partition; with ``scoring.shared_peers`` all read one peer table, as a
    service's tasks do through its topic."""
    sc = settings.scoring
    table = PeerTable(sc.peer_member_cap, sc.peer_day_decay) if sc.shared_peers else None
    return [Engine(settings, directory, clock, owns=owner(p, partitions), peer_table=table)
            for p in range(partitions)]


def engines_from(
    bundle: Bundle, settings: Settings, directory: Directory,
    clock: Callable[[], float] = time.time,
) -> list[Engine]:
    """One engine per partition the bundle was fit with, in partition order."""
    parts = bundle.baselines()
    engines = partition_engines(settings, directory, len(parts), clock)
    for engine, part in zip(engines, parts, strict=True):
        engine.adopt_baselines(part)
    return engines


def settings_differences(bundle: Bundle, settings: Settings) -> list[str]:
    """Settings that differ from those the bundle was built with, one line each."""
    now, then = settings_record(settings), bundle.metadata.settings
    out = []
    for section, values in now.items():
        old = then.get(section)
        if isinstance(values, dict) and isinstance(old, dict):
            for name, value in values.items():
                if old.get(name) != value:
                    out.append(f"{section}.{name}: {old.get(name)!r} in the bundle, "
                               f"{value!r} now")
        elif old != values:
            out.append(f"{section}: {old!r} in the bundle, {values!r} now")
    return out


__all__ = [
    "DEFAULT_PUBLISH_DIR", "FORMAT", "MAGIC", "PUBLISHED_NAME", "Baselines", "Bundle",
    "BundleError", "BundleInfo", "Metadata", "apply_baselines", "apply_to", "build_bundle",
    "bundle_version", "decode", "describe", "encode", "engine_from", "engines_from", "iso_utc",
    "load", "pack", "partition_engines", "publish", "read", "save", "settings_differences",
    "settings_record", "signing_key", "write_atomic",
]
