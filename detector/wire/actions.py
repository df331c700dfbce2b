"""Actions the detector publishes: alerts, freezes and releases.

An action names employees, counts, territories and tiers, never a customer.
``schemas/action.schema.json`` is the published contract for these objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

ALERT = "alert"
FREEZE = "freeze"
RELEASE = "release"
SEVERITIES = ("low", "medium", "high", "critical")
FREEZE_SCOPE = "data_out"
# An offboarding lock: all of the account's data access, with no expiry.
LOCK_SCOPE = "data_access"


@dataclass(slots=True)
class Reason:
    """One signal behind a score: a stable code, a line for humans, its points."""

    code: str
    text: str
    points: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "points": round(self.points, 1),
            "details": self.details,
        }


@dataclass(slots=True)
class Action:
    action_id: str
    type: str
    employee_id: str
    event_time: str
    decided_at: str
    severity: str
    score: int
    reasons: list[Reason]
    event_ids: list[str]
    incident_id: str
    scope: str | None = None
    expires_at: str | None = None
    escalation: bool = False
    peer_group: str | None = None
    employee_status: str | None = None
    summary: str = ""
    model_version: str | None = None
    release_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action_id": self.action_id,
            "type": self.type,
            "employee_id": self.employee_id,
            "event_time": self.event_time,
            "decided_at": self.decided_at,
            "severity": self.severity,
            "score": self.score,
            "reasons": [r.to_dict() for r in self.reasons],
            "event_ids": self.event_ids,
            "incident_id": self.incident_id,
            "summary": self.summary,
        }
        if self.scope is not None:
            out["scope"] = self.scope
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        if self.escalation:
            out["escalation"] = True
        if self.peer_group is not None:
            out["peer_group"] = self.peer_group
        if self.employee_status is not None:
            out["employee_status"] = self.employee_status
        if self.model_version is not None:
            out["model_version"] = self.model_version
        if self.release_reason is not None:
            out["release_reason"] = self.release_reason
        return out


def derive_id(kind: str, *parts: str) -> str:
    """A deterministic id: the same triggering input always yields the same id."""
    h = hashlib.blake2b(digest_size=12)
    h.update(kind.encode())
    for p in parts:
        h.update(b"\x1f")
        h.update(p.encode())
    return f"{kind}-{h.hexdigest()}"
