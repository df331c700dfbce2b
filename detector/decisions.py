"""From scores to actions: one open incident per employee, freezes with a TTL.

Every action id is derived from the event (or freeze) that caused it, so the
same input always yields the same ids and a consumer can drop repeats.  An
open incident absorbs further evidence and only speaks again when the
severity rises, which is what keeps a compromised account from producing an
alert storm.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

from detector.settings import DecisionSettings
from detector.wire.actions import (
    ALERT,
    FREEZE,
    FREEZE_SCOPE,
    RELEASE,
    SEVERITIES,
    Action,
    Reason,
    derive_id,
)
from detector.wire.times import rfc3339


@dataclass(slots=True)
class Incident:
    incident_id: str
    opened_ts: float
    last_ts: float
    severity: int  # index into SEVERITIES
    evidence: int = 1
    freeze_id: str | None = None
    freeze_event_id: str | None = None
    freeze_expires: float | None = None


@dataclass(slots=True)
class Trigger:
    """What the decision needs to know about the event that was scored."""

    event_id: str
    ts: float
    timestamp: str
    employee_id: str
    score: int
    reasons: list[Reason]
    summary: str
    peer_group: str | None
    status: str


class IncidentBook:
    def __init__(
        self,
        settings: DecisionSettings,
        clock: Callable[[], float] = time.time,
        model_version: str | None = None,
    ) -> None:
        self.s = settings
        self.clock = clock
        self.model_version = model_version
        self.open: dict[str, Incident] = {}
        self._expiries: list[tuple[float, str, str]] = []  # (expires, employee, freeze id)

    def severity(self, score: float) -> int | None:
        s = self.s
        if score >= s.critical:
            return 3
        if score >= s.high:
            return 2
        if score >= s.medium:
            return 1
        if score >= s.alert:
            return 0
        return None

    def decide(self, t: Trigger) -> list[Action]:
        level = self.severity(t.score)
        inc = self.open.get(t.employee_id)
        if inc is not None and self._closable(inc, t.ts):
            del self.open[t.employee_id]
            inc = None
        if level is None:
            return []
        out: list[Action] = []
        if inc is None:
            inc = Incident(derive_id("inc", t.event_id), t.ts, t.ts, level)
            self.open[t.employee_id] = inc
            out.append(self._action(ALERT, t, inc, level, derive_id("alert", t.event_id)))
        else:
            inc.last_ts = max(inc.last_ts, t.ts)
            inc.evidence += 1
            if level > inc.severity:
                inc.severity = level
                act = self._action(ALERT, t, inc, level, derive_id("alert", t.event_id))
                act.escalation = True
                out.append(act)
        if t.score >= self.s.freeze and not self._frozen(inc, t.ts):
            fid = derive_id("freeze", t.event_id)
            expires = t.ts + self.s.freeze_ttl_seconds
            inc.freeze_id, inc.freeze_event_id, inc.freeze_expires = fid, t.event_id, expires
            heapq.heappush(self._expiries, (expires, t.employee_id, fid))
            act = self._action(FREEZE, t, inc, max(level, inc.severity), fid)
            act.scope = FREEZE_SCOPE
            act.expires_at = rfc3339(expires)
            out.append(act)
        return out

    def state(self) -> tuple[dict[str, Incident], list[tuple[float, str, str]]]:
        return self.open, self._expiries

    def load_state(
        self, state: tuple[dict[str, Incident], list[tuple[float, str, str]]]
    ) -> None:
        self.open, expiries = state
        self._expiries = list(expiries)
        heapq.heapify(self._expiries)

    @property
    def next_expiry(self) -> float:
        """When the earliest pending freeze expires (infinity when none is)."""
        return self._expiries[0][0] if self._expiries else float("inf")

    def expire(self, watermark: float) -> list[Action]:
        """Releases for freezes whose TTL has passed in event time."""
        out: list[Action] = []
        while self._expiries and self._expiries[0][0] <= watermark:
            expires, emp, fid = heapq.heappop(self._expiries)
            inc = self.open.get(emp)
            if inc is None or inc.freeze_id != fid:
                continue
            out.append(self._release(emp, inc, "ttl_expired", expires))
        return out

    def release(self, employee_id: str, reason: str, at: float) -> list[Action]:
        """An analyst lifts a freeze; nothing to do when none is active."""
        inc = self.open.get(employee_id)
        if inc is None or inc.freeze_id is None:
            return []
        return [self._release(employee_id, inc, reason, at)]

    def _release(self, employee_id: str, inc: Incident, reason: str, at: float) -> Action:
        fid = inc.freeze_id or ""
        act = Action(
            action_id=derive_id("release", fid),
            type=RELEASE,
            employee_id=employee_id,
            event_time=rfc3339(at),
            decided_at=rfc3339(self.clock()),
            severity=SEVERITIES[inc.severity],
            score=0,
            reasons=[],
            event_ids=[inc.freeze_event_id or fid],
            incident_id=inc.incident_id,
            scope=FREEZE_SCOPE,
            summary=f"data-out rights of {employee_id} restored ({reason.replace('_', ' ')})",
            model_version=self.model_version,
            release_reason=reason,
        )
        inc.freeze_id = inc.freeze_event_id = None
        inc.freeze_expires = None
        return act

    def _frozen(self, inc: Incident, ts: float) -> bool:
        return inc.freeze_expires is not None and ts < inc.freeze_expires

    def _closable(self, inc: Incident, ts: float) -> bool:
        return inc.freeze_id is None and ts - inc.last_ts > self.s.incident_quiet_seconds

    def _action(self, kind: str, t: Trigger, inc: Incident, level: int, action_id: str) -> Action:
        return Action(
            action_id=action_id,
            type=kind,
            employee_id=t.employee_id,
            event_time=t.timestamp,
            decided_at=rfc3339(self.clock()),
            severity=SEVERITIES[level],
            score=t.score,
            reasons=t.reasons,
            event_ids=[t.event_id],
            incident_id=inc.incident_id,
            peer_group=t.peer_group,
            employee_status=t.status,
            summary=t.summary,
            model_version=self.model_version,
        )
