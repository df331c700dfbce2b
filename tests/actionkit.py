"""A sample alert as the engine would emit it, for the tests of how actions are
written out (the native contract, OCSF): one employee's export, decided two
seconds after it happened."""

from __future__ import annotations

from typing import Any

from detector.wire.actions import ALERT, Action, Reason, derive_id


def sample_alert(event_id: str, reasons: list[Reason], changes: dict[str, Any]) -> Action:
    """An alert on ``event_id`` with ``reasons``; ``changes`` replace any field."""
    fields: dict[str, Any] = {
        "action_id": derive_id("alert", event_id),
        "type": ALERT,
        "employee_id": "E1042",
        "event_time": "2026-11-22T10:14:07.250+08:00",
        "decided_at": "2026-11-22T02:14:09.118Z",
        "severity": "medium",
        "score": 63,
        "reasons": reasons,
        "event_ids": [event_id],
        "incident_id": derive_id("inc", event_id),
        "peer_group": "sales-apac",
        "employee_status": "notice",
        "summary": "E1042 (account executive): exported 4,800 rows in one action",
        "model_version": "online",
    }
    fields.update(changes)
    return Action(**fields)
