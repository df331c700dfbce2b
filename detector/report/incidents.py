"""One row per incident for the report's table.

An incident is what the detector opens for one employee and grows with more
evidence; its actions share an ``incident_id``.  Each row says who, when, how
bad, why, what left the CRM (when events are given) and whether a freeze cut
it off.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from detector.report.inputs import ActionDoc, action_time
from detector.report.scope import incident_events, rows_out
from detector.wire.actions import ALERT, FREEZE, RELEASE, SEVERITIES
from detector.wire.events import Event


@dataclass(frozen=True, slots=True)
class IncidentRow:
    incident_id: str
    employee_id: str
    peer_group: str
    status: str
    first: str
    last: str
    severity: str
    alerts: int
    reasons: list[str]
    rows_out: int | None
    rows_by_tier: dict[str, int] | None
    rows_by_territory: dict[str, int] | None
    freeze: str


def _freeze_text(actions: list[ActionDoc], events: list[Event] | None) -> str:
    """Whether a freeze stopped the incident, in words a reader can check.

    With events, data out by the employee while frozen is counted: the CRM's
    enforcement should have refused it, so a non-zero count is worth a look.
    """
    freezes = [a for a in actions if a["type"] == FREEZE]
    if not freezes:
        return "no freeze"
    first = min(action_time(a) for a in freezes)
    releases = [a for a in actions if a["type"] == RELEASE and action_time(a) >= first]
    text = f"frozen at {freezes[0]['event_time'][:16].replace('T', ' ')}"
    if events is not None:
        end = min((action_time(a) for a in releases), default=float("inf"))
        named = {e for a in freezes for e in a.get("event_ids", [])}
        after = [ev for ev in events if ev.employee_id == freezes[0]["employee_id"]
                 and ev.data_out and first <= ev.ts < end and ev.event_id not in named]
        text += ("; no data out while frozen" if not after
                 else f"; {len(after)} data-out events while frozen")
    return text


def _status(actions: list[ActionDoc]) -> str:
    last_freeze = max((action_time(a) for a in actions if a["type"] == FREEZE), default=None)
    if last_freeze is None:
        return "alerted"
    released = [a for a in actions if a["type"] == RELEASE and action_time(a) >= last_freeze]
    if not released:
        return "frozen"
    reason = str(released[-1].get("release_reason") or "released").replace("_", " ")
    return f"released ({reason})"


def incident_rows(actions: list[ActionDoc], events: list[Event] | None) -> list[IncidentRow]:
    """Rows in order of first action; ``events`` None leaves the volume columns empty."""
    grouped: dict[str, list[ActionDoc]] = defaultdict(list)
    for a in actions:
        grouped[a["incident_id"]].append(a)
    by_employee: dict[str, list[Event]] = defaultdict(list)
    for ev in events or ():
        by_employee[ev.employee_id].append(ev)
    rows = []
    for incident_id, mine in grouped.items():
        mine.sort(key=action_time)
        alerts = [a for a in mine if a["type"] == ALERT]
        severity = max((a["severity"] for a in mine), key=SEVERITIES.index)
        codes: dict[str, None] = {}
        for a in alerts:
            for r in a.get("reasons", []):
                if float(r.get("points", 0) or 0) > 0:
                    codes[str(r.get("code"))] = None
        total: int | None = None
        tiers: dict[str, int] | None = None
        territories: dict[str, int] | None = None
        if events is not None:
            own = by_employee.get(mine[0]["employee_id"], [])
            total, territories, tiers = rows_out(incident_events(mine, own, incident_id))
        peer = next((str(a["peer_group"]) for a in mine if a.get("peer_group")), "–")
        rows.append(IncidentRow(
            incident_id=incident_id, employee_id=mine[0]["employee_id"], peer_group=peer,
            status=_status(mine), first=mine[0]["event_time"], last=mine[-1]["event_time"],
            severity=severity, alerts=len(alerts), reasons=list(codes), rows_out=total,
            rows_by_tier=tiers, rows_by_territory=territories, freeze=_freeze_text(
                mine, None if events is None else by_employee.get(mine[0]["employee_id"], [])),
        ))
    rows.sort(key=lambda r: (r.first, r.incident_id))
    return rows
