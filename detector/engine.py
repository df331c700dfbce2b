"""The engine: the one loop body that replay and the Kafka service both run.

For each event: look up who the employee was at that moment, measure, score
against own / peer / global baselines, decide, and only then learn (and only
from events that raised nothing).  Releases fall due as event time passes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from detector.actions import Action
from detector.decisions import IncidentBook, Trigger
from detector.directory import Directory, EmployeeRecord
from detector.events import Event
from detector.scoring import Assessment, Scorer
from detector.settings import Settings
from models.baseline import EmployeeBaseline, PeerBaseline

GLOBAL_GROUP = "*"


@dataclass(slots=True)
class Counters:
    events: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    freezes: int = 0
    releases: int = 0
    unknown_employees: int = 0


class Engine:
    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.scorer = Scorer(settings.scoring)
        self.incidents = IncidentBook(settings.decisions, clock, settings.model_version)
        self.employees: dict[str, EmployeeBaseline] = {}
        self.peers: dict[str, PeerBaseline] = {}
        self.glob = PeerBaseline()
        self.watermark = float("-inf")
        self.counters = Counters()
        # Employee -> (their first directory version, the provisional record from it).
        self._early: dict[str, tuple[EmployeeRecord, EmployeeRecord]] = {}
        self._alert_at = settings.decisions.alert

    def peer(self, group: str) -> PeerBaseline:
        p = self.peers.get(group)
        if p is None:
            p = self.peers[group] = PeerBaseline()
        return p

    def process(self, ev: Event) -> list[Action]:
        """Score one event and return the actions it causes (often none)."""
        self.counters.events += 1
        out: list[Action] = []
        if ev.ts > self.watermark:
            self.watermark = ev.ts
            if self.incidents.next_expiry <= ev.ts:
                out.extend(self._count(self.incidents.expire(ev.ts)))
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
        scorer = self.scorer
        obs = scorer.observe(ev, rec, emp, peer, self.glob)
        assessment = scorer.assess(obs, emp, peer, self.glob)
        suspicious = assessment.score >= self._alert_at
        scorer.learn(obs, emp, peer, self.glob, suspicious, assessment.cold_start)
        if suspicious:
            scorer.note_elevated(obs, peer)
            out.extend(self._count(self.incidents.decide(self._trigger(ev, rec, assessment))))
        return out

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

    def release(
        self, employee_id: str, reason: str = "analyst", at: float | None = None
    ) -> list[Action]:
        when = self.watermark if at is None else at
        return self._count(self.incidents.release(employee_id, reason, when))

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
