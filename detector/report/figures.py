"""The period in numbers and the series behind each plot, computed from the inputs.

Nothing here is estimated or fixed in advance: each figure is a count, sum or
median over the actions (and, where given, the events and the directory), so
a reader can recount any of them from the same files.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from detector.report.inputs import ActionDoc, Inputs, action_time
from detector.wire.actions import ALERT, FREEZE, LOCK_SCOPE, RELEASE, SEVERITIES

RELEASE_REASONS = ("ttl_expired", "analyst", "false_positive")
NOTICE = "notice"
_TOP_GROUPS = 12


@dataclass(slots=True)
class Figures:
    """What the report shows; ``None`` where the inputs cannot tell."""

    period_text: str
    days: list[str]
    events_scored: int | None
    events_refused: int | None
    alerts: int
    alerts_by_severity: dict[str, int]
    incidents: int
    employees_alerted: int
    freezes: int
    offboarding_locks: int
    locks_lifted: int
    releases_by_reason: dict[str, int]
    false_positive_feedback: int | None
    median_minutes_to_release: float | None
    minutes_to_release: list[float]
    alerts_per_day: dict[str, list[float]]
    freezes_per_day: dict[str, list[float]]
    reasons: dict[str, int]
    rows_by_group: dict[str, float] | None
    rows_by_territory: dict[str, float] | None
    notice_rows_per_day: dict[str, list[float]] | None
    notice_alerts_per_day: dict[str, list[float]]
    notes: list[str] = field(default_factory=list)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _per_day(days: list[str], pairs: list[tuple[str, float, float]], keys: list[str]
             ) -> dict[str, list[float]]:
    """{key: value per day} from (key, time, value) triples."""
    index = {d: i for i, d in enumerate(days)}
    out = {k: [0.0] * len(days) for k in keys}
    for key, ts, value in pairs:
        i = index.get(_day(ts))
        if i is not None and key in out:
            out[key][i] += value
    return out


def _top(counts: Counter[str], n: int) -> dict[str, float]:
    """The ``n`` largest, the rest summed as "other" (so totals still add up)."""
    ranked = counts.most_common()
    out = {k: float(v) for k, v in ranked[:n]}
    rest = sum(v for _, v in ranked[n:])
    if rest:
        out["other"] = float(rest)
    return out


def release_minutes(actions: list[ActionDoc]) -> list[float]:
    """Per release: minutes from its incident's first alert to the release."""
    first_alert: dict[str, float] = {}
    for a in actions:
        if a["type"] == ALERT:
            t = action_time(a)
            first_alert[a["incident_id"]] = min(first_alert.get(a["incident_id"], t), t)
    out = []
    for a in actions:
        if a["type"] == RELEASE and a["incident_id"] in first_alert:
            out.append((action_time(a) - first_alert[a["incident_id"]]) / 60.0)
    return out


def compute(inputs: Inputs, false_positive_feedback: int | None = None) -> Figures:
    """Every figure of the report for ``inputs`` (actions already within the period)."""
    period, actions = inputs.period, inputs.actions
    days = [d.isoformat() for d in period.days]
    alerts = [a for a in actions if a["type"] == ALERT]
    # An offboarding lock (scope data_access) is a freeze of another kind: it follows
    # from the directory, not from a finding, so it is counted apart from the
    # data-out freezes and its lifting apart from their releases.
    locks = [a for a in actions if a["type"] == FREEZE and a.get("scope") == LOCK_SCOPE]
    freezes = [a for a in actions if a["type"] == FREEZE and a.get("scope") != LOCK_SCOPE]
    lifted = [a for a in actions if a["type"] == RELEASE and a.get("scope") == LOCK_SCOPE]
    releases = [a for a in actions if a["type"] == RELEASE and a.get("scope") != LOCK_SCOPE]
    by_severity = Counter(a["severity"] for a in alerts)
    release_reasons = Counter(str(a.get("release_reason") or "other") for a in releases)
    minutes = release_minutes(actions)
    reasons: Counter[str] = Counter()
    for a in alerts:
        reasons.update({str(r.get("code")) for r in a.get("reasons", [])
                        if float(r.get("points", 0) or 0) > 0})
    notes: list[str] = []
    notice_alerts = [a for a in alerts if a.get("employee_status") == NOTICE]
    notice_ids = sorted({a["employee_id"] for a in notice_alerts})
    figures = Figures(
        period_text=period.text(),
        days=days,
        events_scored=None,
        events_refused=None,
        alerts=len(alerts),
        alerts_by_severity={s: by_severity.get(s, 0) for s in SEVERITIES},
        incidents=len({a["incident_id"] for a in actions}),
        employees_alerted=len({a["employee_id"] for a in alerts}),
        freezes=len(freezes),
        offboarding_locks=len(locks),
        locks_lifted=len(lifted),
        releases_by_reason={r: release_reasons.get(r, 0) for r in RELEASE_REASONS}
        | {r: n for r, n in release_reasons.items() if r not in RELEASE_REASONS},
        false_positive_feedback=false_positive_feedback,
        median_minutes_to_release=statistics.median(minutes) if minutes else None,
        minutes_to_release=minutes,
        alerts_per_day=_per_day(days, [(a["severity"], action_time(a), 1.0) for a in alerts],
                                list(SEVERITIES)),
        freezes_per_day=_per_day(days, [(a["severity"], action_time(a), 1.0) for a in freezes],
                                 list(SEVERITIES)),
        reasons=dict(reasons.most_common()),
        rows_by_group=None,
        rows_by_territory=None,
        notice_rows_per_day=None,
        notice_alerts_per_day=_per_day(
            days, [(a["employee_id"], action_time(a), 1.0) for a in notice_alerts], notice_ids),
        notes=notes,
    )
    if inputs.events is None:
        notes.append("No events were given (--events): events scored, data-out volumes and the "
                     "activity of employees under notice are not shown.")
    else:
        _from_events(inputs, figures)
    return figures


def _from_events(inputs: Inputs, figures: Figures) -> None:
    """Volumes by peer group and territory, and the daily data out of employees under notice."""
    assert inputs.events is not None
    period, directory = inputs.period, inputs.directory
    scored = [ev for ev in inputs.events if period.contains(ev.ts)]
    figures.events_scored = len(scored)
    figures.events_refused = inputs.event_rejects
    by_group: Counter[str] = Counter()
    by_territory: Counter[str] = Counter()
    notice: list[tuple[str, float, float]] = []
    for ev in scored:
        if not ev.data_out or ev.record_count <= 0:
            continue
        rec = directory.at(ev.employee_id, ev.ts) if directory is not None else None
        by_group[rec.peer_group if rec is not None else "not in directory"] += ev.record_count
        counted = 0
        for territory, n in (ev.territories or {}).items():
            by_territory[territory] += n
            counted += n
        if counted < ev.record_count:
            by_territory["not stated"] += ev.record_count - counted
        if rec is not None and rec.status == NOTICE:
            notice.append((ev.employee_id, ev.ts, float(ev.record_count)))
    figures.rows_by_group = _top(by_group, _TOP_GROUPS)
    figures.rows_by_territory = _top(by_territory, _TOP_GROUPS)
    totals: dict[str, float] = defaultdict(float)
    for eid, _, rows in notice:
        totals[eid] += rows
    ranked = sorted(totals, key=lambda e: -totals[e])
    keep = set(ranked[:7])
    named = [(eid if eid in keep else "others", ts, rows) for eid, ts, rows in notice]
    keys = ranked[:7] + (["others"] if len(ranked) > 7 else [])
    figures.notice_rows_per_day = _per_day(figures.days, named, keys)
    if inputs.directory is None:
        figures.notes.append("No directory was given: every volume counts as "
                             "'not in directory' and nobody is known to be under notice.")
