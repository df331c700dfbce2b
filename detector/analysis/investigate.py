"""One alert, taken apart: what the employee did around it, what it was judged against, and why.

An analyst deciding whether to call the employee's manager needs three
things the alert alone does not show: the activity around it, the learned
behaviour it was compared with (as it stood just before the event, not as it
is today), and how much each reason weighed.  What it returns for showing
holds times, actions, counts and reason codes, never a customer id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from detector.directory import Directory
from detector.engine import Engine
from detector.features import local_clock
from detector.settings import Settings
from detector.wire.actions import ALERT, FREEZE, RELEASE
from detector.wire.events import Event

ActionDoc = Mapping[str, Any]  # an action as published (``Action.to_dict``)


def event_time(action: ActionDoc) -> float:
    """An action's ``event_time`` as seconds since the epoch."""
    return datetime.fromisoformat(str(action["event_time"])).timestamp()


def pick_alert(actions: Iterable[ActionDoc], key: str | None = None) -> ActionDoc:
    """The alert to look at: by action id or incident id, else the highest score.

    For an incident, its highest-scoring alert (the one that said the most);
    ties go to the earliest, which is when an analyst would first have seen it.
    """
    alerts = [a for a in actions if a.get("type") == ALERT]
    if key is not None:
        alerts = [a for a in alerts if key in (a.get("action_id"), a.get("incident_id"))]
    if not alerts:
        raise LookupError(f"no alert with action or incident id {key!r}" if key is not None
                          else "no alert to investigate")
    return min(alerts, key=lambda a: (-int(a["score"]), event_time(a)))


def incident_actions(actions: Iterable[ActionDoc], incident_id: str) -> list[ActionDoc]:
    """Every alert, freeze and release of one incident, in event-time order."""
    return sorted((a for a in actions if a.get("incident_id") == incident_id), key=event_time)


def find_event(events: Iterable[Event], event_id: str) -> Event:
    for ev in events:
        if ev.event_id == event_id:
            return ev
    raise LookupError(f"event {event_id} is not among the events given")


@dataclass(frozen=True, slots=True)
class Timeline:
    """One employee's events in a window, with the detector's actions on them."""

    employee_id: str
    start: float
    end: float
    ts: np.ndarray
    actions: tuple[str, ...]  # the CRM action of each event
    rows: np.ndarray
    data_out: np.ndarray
    alerts: list[tuple[float, int, str]]  # (time, score, severity)
    freezes: list[float]
    releases: list[float]


def timeline(
    events: Iterable[Event],
    actions: Iterable[ActionDoc],
    employee_id: str,
    at: float,
    hours_before: float = 72.0,
    hours_after: float = 24.0,
) -> Timeline:
    """The employee's events and actions from ``hours_before`` to ``hours_after`` around ``at``.

    Releases are placed at their ``event_time``: when the freeze ended, which
    for an expiry is later than the event that caused the freeze.
    """
    start, end = at - hours_before * 3600.0, at + hours_after * 3600.0
    mine = sorted((ev for ev in events
                   if ev.employee_id == employee_id and start <= ev.ts <= end),
                  key=lambda ev: ev.ts)
    alerts: list[tuple[float, int, str]] = []
    freezes: list[float] = []
    releases: list[float] = []
    for a in actions:
        if a.get("employee_id") != employee_id:
            continue
        t = event_time(a)
        if not start <= t <= end:
            continue
        if a.get("type") == ALERT:
            alerts.append((t, int(a["score"]), str(a["severity"])))
        elif a.get("type") == FREEZE:
            freezes.append(t)
        elif a.get("type") == RELEASE:
            releases.append(t)
    return Timeline(
        employee_id=employee_id, start=start, end=end,
        ts=np.array([ev.ts for ev in mine], dtype=np.float64),
        actions=tuple(ev.action for ev in mine),
        rows=np.array([ev.record_count for ev in mine], dtype=np.int64),
        data_out=np.array([ev.data_out for ev in mine], dtype=bool),
        alerts=sorted(alerts), freezes=sorted(freezes), releases=sorted(releases),
    )


def engine_before(
    settings: Settings, directory: Directory, events: Iterable[Event], event_id: str
) -> Engine:
    """A fresh engine fed every event before ``event_id``, in the order given.

    Baselines keep learning after an alert, so today's state is not what the
    event was scored against; replaying up to it is.  The order must be the
    one the actions came from (a replay's input order) for the state to match.
    """
    engine = Engine(settings, directory, clock=lambda: 0.0)
    for ev in events:
        if ev.event_id == event_id:
            return engine
        engine.process(ev)
    raise LookupError(f"event {event_id} is not among the events given")


@dataclass(frozen=True, slots=True)
class Reference:
    """A learned baseline's view of single data-out actions, in rows."""

    observations: int  # data-out actions learned
    typical_rows: float | None  # back-transformed mean of log1p rows
    usual_max_rows: float | None  # top of the usual range (mean + k sd, log space)


@dataclass(frozen=True, slots=True)
class Judged:
    """What one event was compared with: the baselines just before it.

    Hour profiles count active hours per local weekday (rows) and hour
    (columns).  The scorer blends own and peer ranges while history is short
    and never goes below ``scoring.volume_floor_rows``; the figure it used is
    in the reasons' details (``usual_max``).
    """

    employee_id: str
    peer_group: str | None
    how: int  # local hour of the week of the event
    rows: int
    data_out: bool
    own_hours: np.ndarray
    peer_hours: np.ndarray
    own: Reference
    peer: Reference
    history_days: float


def _reference(stat_n: int, mean: float, band: float) -> Reference:
    if stat_n == 0:
        return Reference(0, None, None)
    return Reference(stat_n, math.expm1(mean), math.expm1(band))


def judged_against(engine: Engine, ev: Event) -> Judged:
    """Read the employee's and the peer group's baselines in ``engine`` for ``ev``.

    ``engine`` should be :func:`engine_before` the event; a peer group the
    engine has not seen yet falls back to the global baseline, as scoring does.
    """
    rec, emp, peer = engine.judged_by(ev.employee_id, ev.ts)
    _, how, _ = local_clock(rec.tz if rec is not None else None, ev.ts)
    k = engine.settings.scoring.k_band
    if emp is None:
        own = Reference(0, None, None)
        own_hours = np.zeros((7, 24), dtype=np.int64)
        days = 0.0
    else:
        rows = emp.stat("rows")
        own = _reference(rows.n, rows.mean, emp.band("rows", k, ev.ts))
        own_hours = np.array(emp.hour_profile().bins, dtype=np.int64).reshape(7, 24)
        days = emp.seen_days(ev.ts)
    return Judged(
        employee_id=ev.employee_id,
        peer_group=rec.peer_group if rec is not None else None,
        how=how, rows=ev.record_count, data_out=ev.data_out,
        own_hours=own_hours,
        peer_hours=np.array(peer.hour_profile().bins, dtype=np.int64).reshape(7, 24),
        own=own,
        peer=_reference(peer.stat("rows").n, peer.stat("rows").mean, peer.stat("rows").band(k)),
        history_days=days,
    )


def contributions(alert: ActionDoc) -> list[tuple[str, float]]:
    """(reason code, points) of an alert, largest first: what made up its score.

    The points can add up to more than 100; the score is capped there.
    """
    pairs = [(str(r["code"]), float(r["points"])) for r in alert.get("reasons", [])]
    return sorted(pairs, key=lambda p: -p[1])


def share_of_hours(grid: np.ndarray, how: int) -> float:
    """How usual an hour of the week is: its count over the busiest hour's (0 when unseen)."""
    top = int(grid.max()) if grid.size else 0
    return float(grid.flat[how]) / top if top else 0.0


__all__ = [
    "Judged",
    "Reference",
    "Timeline",
    "contributions",
    "engine_before",
    "event_time",
    "find_event",
    "incident_actions",
    "judged_against",
    "pick_alert",
    "share_of_hours",
]
