"""The published baseline bundle, as the service sees it: loaded at start,
checked for a new version while running, and applied to each task.

What a swap keeps and what it discards, so that an analyst can say which:

* kept: incidents, open freezes, analysts' verdicts, the event-id memory, and
  the baselines of employees the bundle does not hold;
* replaced: the baselines of the employees, peer groups and the global
  baseline the bundle holds (with shared peers: the process's table starts
  from the bundle's fitted table, and the topic's contributions fold on
  top).  Whatever the live baselines of those had learned is discarded,
  including what they learned after the bundle's last event; the ``bundle
  applied`` log line counts those employees.

A task's state records the bundle it started from (its ``model_version``),
so a restore after a restart does not apply the same bundle again on top of
what was learned since.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from datetime import datetime

from detector.bundles import apply_baselines, settings_differences, signing_key
from detector.engine import Engine
from detector.partitioning import partition_for
from detector.settings import DecisionSettings, Settings, SettingsError
from models.bundle import Bundle, BundleError, load
from models.peer_table import PeerTable

log = logging.getLogger("insider.bundle")


@dataclass(slots=True)
class SwapReport:
    """What applying a bundle to one task did."""

    partition: int
    added: int = 0  # employees new to the task
    replaced: int = 0  # employees whose live baseline was replaced
    learned_since_discarded: int = 0  # ... of which had learned after the bundle's end
    kept: int = 0  # employees the bundle does not hold, left as they were
    peer_groups: int = 0


class BundleWatch:
    """The current bundle of ``service.bundle_path`` and whether the file changed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.service.bundle_path
        self.key = signing_key(settings)
        self.bundle: Bundle | None = None
        self.decisions: DecisionSettings | None = None
        self.swaps = 0
        self.refused = 0
        # Partitions of the events topic: a bundle must have as many, or one.
        self.partitions = 1
        self._stamp: tuple[int, int] | None = None

    @property
    def version(self) -> str | None:
        return None if self.bundle is None else self.bundle.version

    def check(self) -> bool:
        """Load the file if it changed; True when a new bundle is now current.

        A bundle that fails verification is refused and the current one kept;
        the file is not read again until it changes.
        """
        if not self.path:
            return False
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._stamp is None:
                log.warning("no bundle published yet", extra={"path": self.path})
                self._stamp = (0, 0)
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            bundle = load(self.path, self.key)
            decisions = self._thresholds(bundle)
            n = bundle.metadata.partitions
            if n not in (1, self.partitions):
                raise BundleError(f"it was fit on {n} partitions and the events topic has "
                                  f"{self.partitions} (fit with --partitions "
                                  f"{self.partitions}, or 1)")
            scoring = bundle.metadata.settings.get("scoring")
            shared = isinstance(scoring, dict) and scoring.get("shared_peers") is True
            if shared != self.settings.scoring.shared_peers:
                raise BundleError(f"it was fit with scoring.shared_peers = {str(shared).lower()}"
                                  " and the detector runs with the other setting")
        except (BundleError, SettingsError) as exc:
            self.refused += 1
            log.error("bundle refused", extra={"path": self.path, "why": str(exc)})
            return False
        if self.bundle is not None and bundle.version == self.bundle.version:
            return False
        self.bundle, self.decisions = bundle, decisions
        self.swaps += 1
        md = bundle.metadata
        log.info("bundle loaded", extra={
            "version": bundle.version, "created_at": md.created_at,
            "first_event": md.first_event, "last_event": md.last_event,
            "events": md.events, "employees": md.employees, "partitions": md.partitions,
            "differences": settings_differences(bundle, self.settings)})
        return True

    def _thresholds(self, bundle: Bundle) -> DecisionSettings | None:
        if not self.settings.service.bundle_thresholds:
            return None
        recorded = bundle.metadata.settings.get("decisions")
        if not isinstance(recorded, dict):
            return None
        names = {f.name for f in dataclasses.fields(DecisionSettings)}
        try:
            decisions = DecisionSettings(**{k: v for k, v in recorded.items() if k in names})
            dataclasses.replace(self.settings, decisions=decisions)  # validates
        except (TypeError, ValueError) as exc:
            raise BundleError(f"its decision thresholds are not valid: {exc}") from None
        return decisions

    def seed(self, table: PeerTable) -> None:
        """Start a process's shared peer table from the current bundle's fitted
        table (once per bundle; the topic's contributions fold on top)."""
        if self.bundle is None:
            return
        part = self.bundle.baselines()[0]
        if part.table is not None:
            table.seed(part.table, part.origin)

    def adopt(self, engine: Engine, partition: int) -> SwapReport | None:
        """Bring a task's engine to the current bundle; None when it already is."""
        bundle = self.bundle
        if bundle is None:
            return None
        decisions = self.decisions or self.settings.decisions
        if engine.model_version == bundle.version:
            engine.retune(decisions, bundle.version)  # restored: thresholds only
            return None
        partitions = self.partitions
        only = None
        part = partition
        if bundle.metadata.partitions != partitions:  # one partition for all: split it
            part = 0

            def only(employee_id: str) -> bool:
                return partition_for(employee_id, partitions) == partition
        fresh = bundle.baselines()[part]
        end = _ts(bundle.metadata.last_event)
        report = SwapReport(partition)
        # A task's engine holds only its own partition's employees: no need of ``only``.
        for employee_id, live in engine.export_baselines().employees.items():
            if employee_id in fresh.employees:
                report.replaced += 1
                if end is not None and live.last_ts > end:
                    report.learned_since_discarded += 1
            else:
                report.kept += 1
        report.peer_groups = (len(fresh.peers) if fresh.table is None
                              else len(fresh.table.groups))
        got = apply_baselines(fresh, engine, only)
        report.added = got - report.replaced
        engine.retune(decisions, bundle.version)
        log.info("bundle applied", extra={"version": bundle.version,
                                          **dataclasses.asdict(report)})
        return report


def _ts(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
