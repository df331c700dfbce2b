"""The engine: the one loop body that replay and the Kafka service both run.

For each event: look up who the employee was at that moment, measure, score
against own / peer / global baselines, decide, and only then learn (and only
from events that raised nothing).  Releases fall due as event time passes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from detector.decisions import IncidentBook, Trigger
from detector.directory import Directory
from detector.engine_state import (
    FP_BYTES,
    RECENT_IDS,
    Counters,
    EmployeeState,
    Refusal,
    fingerprint,
    for_state,
    holds,
)
from detector.offboarding import Offboarding
from detector.scoring import Assessment, Scorer, score_of
from detector.settings import DecisionSettings, Settings
from detector.wire.actions import Action, derive_id
from detector.wire.employees import EmployeeRecord
from detector.wire.events import Event
from models.baseline import Baselines, EmployeeBaseline, PeerBaseline
from models.bundle import BundleError
from models.peer_table import EVERYONE, PeerTable, SharedPeer
from models.peer_table import HOUR as PEER_HOUR

GLOBAL_GROUP = "*"
# How many refused events per employee stay available to a false-positive verdict.
REFUSED_KEPT = 4
NORMAL, SUSPICIOUS, DUPLICATE = "normal", "suspicious", "duplicate"


class Engine:
    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        clock: Callable[[], float] = time.time,
        *,
        owns: Callable[[str], bool] | None = None,
        peer_table: PeerTable | None = None,
    ) -> None:
        """``owns``: whether an employee's events come to this engine (its partition),
        for what it decides without an event (offboarding locks); None for all."""
        self.settings = settings
        sc = settings.scoring
        if peer_table is None and sc.shared_peers:
            peer_table = PeerTable(sc.peer_member_cap, sc.peer_day_decay)
        # The shared peer table (None: peer groups learned by this engine alone).
        self.peer_table = peer_table
        # The newest hour (event time) this engine's partition has reached: what
        # its events teach the table is stamped at least this hour (and its day).
        self.peer_open_hour = -(1 << 40)
        self.directory = directory
        self.scorer = Scorer(settings.scoring)
        self.incidents = IncidentBook(settings.decisions, clock, settings.model_version)
        self.offboarding = Offboarding(directory, owns, clock)
        self.offboarding.model_version = settings.model_version
        self.employees: dict[str, EmployeeBaseline] = {}
        self.peers: dict[str, PeerBaseline] = {}
        self.glob: PeerBaseline = (
            PeerBaseline() if peer_table is None else SharedPeer(peer_table, EVERYONE)
        )
        self.watermark = float("-inf")
        self.counters = Counters()
        # Employee -> (their first directory version, the provisional record from it).
        self._early: dict[str, tuple[EmployeeRecord, EmployeeRecord]] = {}
        self._alert_at = settings.decisions.alert
        # Employee -> {reason code: suppressed until (event time)}, from analysts'
        # false-positive verdicts.
        self.suppressed: dict[str, dict[str, float]] = {}
        # Employee -> the last few events that raised something and were kept out
        # of the baseline, so that a false-positive verdict can let it learn them.
        self.refused: dict[str, deque[Refusal]] = {}
        # Employees whose state changed since the last call to take_dirty().
        self.dirty: set[str] = set()
        # Employee -> fingerprints of their last RECENT_IDS event ids.
        self.recent: dict[str, bytearray] = {}

    def peer(self, group: str) -> PeerBaseline:
        p = self.peers.get(group)
        if p is None:
            p = self.peers[group] = (
                PeerBaseline() if self.peer_table is None
                else SharedPeer(self.peer_table, group)
            )
        return p

    def _bind(self, peer: PeerBaseline, employee_id: str, ts: float) -> None:
        """Shared peer views: advance to the event's day, stamp what it teaches."""
        if isinstance(peer, SharedPeer):
            hour = self.peer_open_hour = max(self.peer_open_hour, math.floor(ts / PEER_HOUR))
            peer.bind(employee_id, ts, hour)
            if peer is not self.glob and isinstance(self.glob, SharedPeer):
                self.glob.bind(employee_id, ts, hour)

    def process(self, ev: Event) -> list[Action]:
        """Score one event and return the actions it causes (often none)."""
        self.counters.events += 1
        fp = fingerprint(ev.event_id)
        ring = self.recent.get(ev.employee_id)
        if ring is None:
            ring = self.recent[ev.employee_id] = bytearray()
        elif holds(ring, fp):
            key = (ev.action, DUPLICATE)
            self.counters.outcomes[key] = self.counters.outcomes.get(key, 0) + 1
            return []
        if len(ring) >= RECENT_IDS * FP_BYTES:
            del ring[:FP_BYTES]
        ring += fp
        out: list[Action] = []
        if ev.ts > self.watermark:
            self.watermark = ev.ts
            if self.incidents.next_expiry <= ev.ts:
                out.extend(self._count(self.incidents.expire(ev.ts)))
            if self.offboarding.next_due <= ev.ts:
                out.extend(self._count(self.offboarding.advance(ev.ts)))
        rec = self.directory.at(ev.employee_id, ev.ts)
        if rec is None:
            rec = self._provisional(ev.employee_id)
        emp = self.employees.get(ev.employee_id)
        if emp is None:
            emp = self.employees[ev.employee_id] = EmployeeBaseline()
        if rec is None:
            self.counters.unknown_employees += 1
            peer = self.glob
        else:
            peer = self.peer(rec.peer_group)
        if self.peer_table is not None:
            self._bind(peer, ev.employee_id, ev.ts)
        scorer = self.scorer
        self.dirty.add(ev.employee_id)
        obs = scorer.observe(ev, rec, emp, peer, self.glob)
        assessment = scorer.assess(obs, emp, peer, self.glob)
        if self.suppressed and ev.employee_id in self.suppressed:
            assessment = self._suppress(ev, assessment)
        self.counters.scores[assessment.score] += 1
        suspicious = assessment.score >= self._alert_at
        outcomes = self.counters.outcomes
        key = (ev.action, SUSPICIOUS if suspicious else NORMAL)
        outcomes[key] = outcomes.get(key, 0) + 1
        scorer.learn(obs, emp, peer, self.glob, suspicious, assessment.cold_start)
        if suspicious:
            scorer.note_elevated(obs, peer)
            kept = self.refused.setdefault(ev.employee_id, deque(maxlen=REFUSED_KEPT))
            kept.append(Refusal(
                ev.event_id, for_state(obs), assessment.cold_start,
                tuple(r.code for r in assessment.reasons if r.points > 0),
                None if rec is None else rec.peer_group,
            ))
            out.extend(self._count(self.incidents.decide(self._trigger(ev, rec, assessment))))
        return out

    def _suppress(self, ev: Event, a: Assessment) -> Assessment:
        """Drop the points of patterns an analyst called a false positive."""
        codes = self.suppressed[ev.employee_id]
        live = {c: t for c, t in codes.items() if t > ev.ts}
        if len(live) != len(codes):
            if live:
                self.suppressed[ev.employee_id] = live
            else:
                del self.suppressed[ev.employee_id]
        if not live or not any(r.code in live and r.points > 0 for r in a.reasons):
            return a
        kept = [r for r in a.reasons if not (r.code in live and r.points > 0)]
        return Assessment(score_of(kept), kept, a.cold_start)

    def false_positive(
        self, employee_id: str, action_id: str, until: float | None = None
    ) -> list[Action]:
        """An analyst's verdict on an alert or freeze of this employee.

        The reason codes behind it are suppressed for the employee until
        ``until`` (event time; default: the configured span past the
        watermark), the refused event is learned after all, and an active
        freeze is released.  An action id not among the last few refusals
        changes nothing.
        """
        kept = self.refused.get(employee_id)
        found = None
        for item in kept or ():
            if action_id in (derive_id("alert", item.event_id), derive_id("freeze", item.event_id)):
                found = item
                break
        if kept is None or found is None:
            return []
        kept.remove(found)
        self.dirty.add(employee_id)
        obs, group = found.obs, found.peer_group
        emp = self.employees.get(employee_id)
        if emp is not None and not found.cold_start:
            peer = self.glob if group is None else self.peer(group)
            if self.peer_table is not None:
                self._bind(peer, employee_id, obs.ev.ts)
            self.scorer.learn(obs, emp, peer, self.glob, False, False, counted=True)
        if until is None:
            until = self.watermark + self.settings.service.false_positive_suppress_seconds
        codes = self.suppressed.setdefault(employee_id, {})
        for code in found.codes:
            codes[code] = max(codes.get(code, until), until)
        return self.release(employee_id, "false_positive")

    # -- the narrow state API: bundles, metrics and investigation use these ----

    def export_baselines(self) -> Baselines:
        """What the engine learned (the live objects; a bundle pickles them at once)."""
        return Baselines(self.employees, self.peers, self.glob, self.peer_table)

    def adopt_baselines(
        self, part: Baselines, only: Callable[[str], bool] | None = None
    ) -> int:
        """Take a bundle's baselines; return how many employees were given.

        Employees, peer groups and the global baseline ``part`` holds replace
        the engine's; other employees keep theirs, and incidents, freezes and
        analysts' verdicts stay: a bundle carries what was learned, not what
        was decided.  ``only`` keeps the employees this engine is responsible for.
        With shared peers the bundle's fitted table seeds the engine's (once per
        bundle for all the engines sharing it): it replaces the folded view, and
        what is folded later lands on top of it.
        """
        if (part.table is None) != (self.peer_table is None):
            fitted = "true" if part.table is not None else "false"
            raise BundleError(f"the bundle was fit with scoring.shared_peers = {fitted}; "
                              "refit it with the current setting")
        employees = part.employees
        if only is not None:
            employees = {e: b for e, b in employees.items() if only(e)}
        self.employees.update(employees)
        if part.table is not None and self.peer_table is not None:
            self.peer_table.seed(part.table, part.origin)
        else:
            self.peers.update(part.peers)
            self.glob = part.glob
        # The next checkpoint must record the new baselines.
        self.dirty.update(employees)
        return len(employees)

    def employee_count(self) -> int:
        """Employees with a baseline in this engine."""
        return len(self.employees)

    def active_freezes(self) -> int:
        """Freezes in force, offboarding locks included."""
        return (sum(1 for inc in self.incidents.open.values() if inc.freeze_id)
                + sum(1 for _, held in self.offboarding.locks.values() if held))

    def judged_by(
        self, employee_id: str, ts: float
    ) -> tuple[EmployeeRecord | None, EmployeeBaseline | None, PeerBaseline]:
        """The directory record in force at ``ts``, the employee's baseline (None
        before their first event) and the peer group's (the global one for an
        unknown employee or a group not seen yet), as an event would be judged."""
        rec = self.directory.at(employee_id, ts)
        peer = self.peers.get(rec.peer_group, self.glob) if rec is not None else self.glob
        return rec, self.employees.get(employee_id), peer

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    # -- state, for checkpoints: shared parts and one entry per employee ----

    def shared_state(self) -> dict[str, Any]:
        if self.peer_table is not None:
            # The shared table is not this engine's to keep: only which groups it
            # has handles on, and its partition's open day.
            return {
                "shared_groups": sorted(self.peers),
                "peer_open_hour": self.peer_open_hour,
                "watermark": self.watermark,
                "incidents": self.incidents.state(),
                "offboarding": self.offboarding.state(),
                "counters": self.counters,
                "model_version": self.model_version,
            }
        return {
            "peers": self.peers,
            "glob": self.glob,
            "watermark": self.watermark,
            "incidents": self.incidents.state(),
            "offboarding": self.offboarding.state(),
            "counters": self.counters,
            "model_version": self.model_version,
        }

    @property
    def model_version(self) -> str | None:
        """The baselines' lineage, stamped on every action: the settings' name for
        baselines learned online from nothing, or the bundle they started from."""
        return self.incidents.model_version

    def retune(self, decisions: DecisionSettings, model_version: str | None) -> None:
        """Thresholds and model name from a bundle; the engine's settings stay as built."""
        self.incidents.s = decisions
        self.incidents.model_version = model_version
        self.offboarding.model_version = model_version
        self._alert_at = decisions.alert

    def employee_state(self, employee_id: str) -> EmployeeState | None:
        emp = self.employees.get(employee_id)
        if emp is None:
            return None
        return EmployeeState(
            emp,
            list(self.refused.get(employee_id, ())),
            dict(self.suppressed.get(employee_id, {})),
            bytes(self.recent.get(employee_id, b"")),
        )

    def load_state(
        self, shared: dict[str, Any] | None, employees: dict[str, EmployeeState]
    ) -> None:
        """Replace everything learned with a checkpoint's content."""
        if shared is not None and self.peer_table is not None:
            self.peers = {g: SharedPeer(self.peer_table, g)
                          for g in shared.get("shared_groups", ())}
            self.peer_open_hour = shared.get("peer_open_hour", self.peer_open_hour)
        elif shared is not None:
            self.peers = shared["peers"]
            self.glob = shared["glob"]
        if shared is not None:
            self.watermark = shared["watermark"]
            self.incidents.load_state(shared["incidents"])
            self.counters = shared["counters"]
            self.incidents.model_version = shared.get("model_version",
                                                      self.incidents.model_version)
            self.offboarding.model_version = self.incidents.model_version
            if "offboarding" in shared:
                self.offboarding.load_state(shared["offboarding"])
        for employee_id, st in employees.items():
            self.employees[employee_id] = st.baseline
            if st.refused:
                self.refused[employee_id] = deque(st.refused, maxlen=REFUSED_KEPT)
            if st.suppressed:
                self.suppressed[employee_id] = dict(st.suppressed)
            if st.recent:
                self.recent[employee_id] = bytearray(st.recent)
        self.dirty.clear()

    def _provisional(self, employee_id: str) -> EmployeeRecord | None:
        """Who an employee is before their first directory version takes effect.

        HR exports are often dated after the activity they describe.  Before an
        employee's first version we assume their role, territories and hours
        from it, but as an active employee: a status is never applied early.
        """
        versions = self.directory.versions(employee_id)
        if not versions:
            return None
        first = versions[0]
        got = self._early.get(employee_id)
        if got is None or got[0] is not first:
            early = dataclasses.replace(
                first, status="active", notice_date=None, last_day=None,
                warnings=(*first.warnings, "provisional: before the first directory version"),
            )
            got = self._early[employee_id] = (first, early)
        return got[1]

    @property
    def next_due(self) -> float:
        """The earliest event time at which something falls due without an event: a
        freeze's expiry or an offboarding lock (infinity when nothing is pending)."""
        return min(self.incidents.next_expiry, self.offboarding.next_due)

    def advance(self, ts: float) -> list[Action]:
        """Move event time on without an event: the freezes due by ``ts`` are released
        and the offboarding locks due by then published.

        For a live stream that has gone quiet; the actions are the ones the next
        event would have brought, with the same ids and times.
        """
        if ts <= self.watermark:
            return []
        self.watermark = ts
        out: list[Action] = []
        if self.incidents.next_expiry <= ts:
            out.extend(self._count(self.incidents.expire(ts)))
        if self.offboarding.next_due <= ts:
            out.extend(self._count(self.offboarding.advance(ts)))
        return out

    def release(
        self, employee_id: str, reason: str = "analyst", at: float | None = None
    ) -> list[Action]:
        """An analyst's release: the employee's freeze and offboarding lock are lifted."""
        when = self.watermark if at is None else at
        return self._count(self.incidents.release(employee_id, reason, when)
                           + self.offboarding.release(employee_id, reason, when))

    def _trigger(self, ev: Event, rec: EmployeeRecord | None, a: Assessment) -> Trigger:
        r = rec
        status = r.status if r is not None else "unknown"
        who = ev.employee_id
        if r is not None:
            who += f" ({r.role or r.peer_group})"
        top = "; ".join(x.text for x in a.reasons if x.points > 0)
        return Trigger(
            event_id=ev.event_id,
            ts=ev.ts,
            timestamp=ev.timestamp,
            employee_id=ev.employee_id,
            score=a.score,
            reasons=a.reasons,
            summary=f"{who}: {top}",
            peer_group=r.peer_group if r is not None else None,
            status=status,
        )

    def _count(self, actions: list[Action]) -> list[Action]:
        c = self.counters
        for a in actions:
            if a.type == "alert":
                c.alerts[a.severity] = c.alerts.get(a.severity, 0) + 1
            elif a.type == "freeze":
                c.freezes += 1
            else:
                c.releases += 1
        return actions
