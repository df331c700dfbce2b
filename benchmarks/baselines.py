"""The methods teams run today to catch data theft from a CRM, for comparison.

Each method reads only the world's events and directory (never ``labels.json``)
and returns alerts in the shape :func:`detector.analysis.evaluation.evaluate` reads, so
every method, ours included, is scored by the same function.  Each one is the
careful version of what is deployed in practice, with its usual settings:

* :func:`static_threshold`: one rule on each data-out action, as a CRM's
  transaction-security policy does.
* :func:`three_sigma`: per employee, today's running total of rows out against
  mean + k standard deviations of their earlier daily totals (a SIEM rule).
* :func:`hst_scores` / :func:`hst_alerts`: River's streaming anomaly detector
  on generic per-event features, alerting above a running quantile of its
  scores.
* :func:`isolation_forest_scores` / :func:`isolation_forest_alerts`:
  scikit-learn's IsolationForest on user-day aggregates, trained on the first
  weeks and run as a nightly batch.

:func:`rows_saved` adds a measure no method's own report gives: how much of an
insider's data was still to leave when the first alert came.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from river import anomaly, compose, preprocessing, stats
from sklearn.ensemble import IsolationForest

from detector.analysis.evaluation import GRACE_SECONDS, Evaluation
from detector.errors import InvalidRecord
from detector.features import in_working_hours, local_clock
from detector.replay import load_directory
from detector.settings import DecisionSettings
from detector.wire.employees import EmployeeRecord
from detector.wire.events import ACTION_ORDER, DATA_OUT_ACTIONS, parse_event
from detector.wire.jsonl import iter_lines
from detector.wire.times import rfc3339

Alert = dict[str, Any]

DAY = 86400.0
_DATA_OUT_CODES = np.array([a in DATA_OUT_ACTIONS for a in ACTION_ORDER])
_EPOCH = date(1970, 1, 1)

# Defaults: the settings each method is reported at (the plot sweeps around them).
STATIC_ROWS = 1000
SIGMA_K = 3.0
SIGMA_MIN_DAYS = 5
HST_Q = 0.999
HST_TREES = 10  # River's defaults: trees, depth and window
HST_HEIGHT = 8
HST_WINDOW = 250
HST_WARMUP_DAYS = 3
IF_CONTAMINATION = 0.01
IF_TREES = 200


@dataclass(slots=True)
class World:
    """A world's valid events in time order, as columns, with what every method needs.

    Local time comes from the directory record in force at each event
    (timezone and working hours: the enrichment any SIEM has); nothing else
    from HR is used, since HR status is part of what our detector adds.
    """

    employees: list[str]
    zones: list[str]  # IANA zone of each employee (at their first event)
    ts: np.ndarray  # UTC seconds
    emp: np.ndarray  # index into employees
    action: np.ndarray  # index into ACTION_ORDER
    rows: np.ndarray  # record_count
    customers: np.ndarray  # distinct customers listed on the event
    nbytes: np.ndarray
    ip: np.ndarray  # per-world codes, -1 when absent
    device: np.ndarray
    country: np.ndarray
    local_day: np.ndarray  # days since 1970-01-01 in the employee's local time
    local_hour: np.ndarray  # 0..24, fractional
    off_hours: np.ndarray  # outside the directory's working hours
    # Distinct customers per (employee, local day), counted while reading.
    day_customers: dict[tuple[int, int], int]
    # Data-out events: id -> (time, rows), for the rows-saved measure.
    out_rows: dict[str, tuple[float, int]]

    @property
    def data_out(self) -> np.ndarray:
        return _DATA_OUT_CODES[self.action]  # type: ignore[no-any-return]

    @property
    def first_day(self) -> int:
        """The UTC day of the first event: day 0 of the world."""
        return int(self.ts.min() // DAY) if len(self.ts) else 0


def load_world(path: Path) -> World:
    """Read ``events.jsonl`` and ``employees.jsonl`` once; invalid events are skipped."""
    directory, _, _ = load_directory(iter_lines(str(path / "employees.jsonl")))
    emp_index: dict[str, int] = {}
    zones: list[str] = []
    codes: tuple[dict[str, int], ...] = ({}, {}, {})
    act_index = {a: i for i, a in enumerate(ACTION_ORDER)}
    cols: list[list[Any]] = [[] for _ in range(12)]
    c_ts, c_emp, c_act, c_rows, c_cust, c_bytes, c_ip, c_dev, c_cty, c_day, c_hour, c_off = cols
    day_customers: dict[tuple[int, int], int] = {}
    open_day: dict[int, tuple[int, set[str]]] = {}
    out_rows: dict[str, tuple[float, int]] = {}
    records: dict[int, EmployeeRecord | None] = {}
    for _, raw in iter_lines(str(path / "events.jsonl")):
        try:
            ev = parse_event(raw)
        except InvalidRecord:
            continue
        e = emp_index.get(ev.employee_id)
        if e is None:
            e = emp_index[ev.employee_id] = len(emp_index)
            first = directory.at(ev.employee_id, ev.ts) or directory.latest(ev.employee_id)
            records[e] = first
            zones.append(first.tz_name if first is not None else "UTC")
        rec = directory.at(ev.employee_id, ev.ts) or records[e]
        tz = rec.tz if rec is not None else None
        abs_hour, how, minute = local_clock(tz, ev.ts)
        day = abs_hour // 24
        working = in_working_hours(rec, how, minute, 0) if rec is not None else None
        if working is None:  # the directory does not say: office hours on weekdays
            working = how // 24 < 5 and 8 * 60 <= minute < 18 * 60
        c_ts.append(ev.ts)
        c_emp.append(e)
        c_act.append(act_index[ev.action])
        c_rows.append(ev.record_count)
        c_cust.append(len(set(ev.customer_ids)))
        c_bytes.append(ev.bytes or 0)
        for col, table, value in ((c_ip, codes[0], ev.source_ip), (c_dev, codes[1], ev.device_id),
                                  (c_cty, codes[2], ev.country)):
            col.append(-1 if value is None else table.setdefault(value, len(table)))
        c_day.append(day)
        c_hour.append(minute / 60.0)
        c_off.append(not working)
        held = open_day.get(e)
        if held is None or held[0] != day:
            if held is not None:
                day_customers[(e, held[0])] = len(held[1])
            held = open_day[e] = (day, set())
        held[1].update(ev.customer_ids)
        if ev.data_out:
            out_rows[ev.event_id] = (ev.ts, ev.record_count)
    for e, (day, seen) in open_day.items():
        day_customers[(e, day)] = len(seen)
    return World(
        employees=list(emp_index), zones=zones,
        ts=np.array(c_ts, dtype=np.float64), emp=np.array(c_emp, dtype=np.int32),
        action=np.array(c_act, dtype=np.int8), rows=np.array(c_rows, dtype=np.int64),
        customers=np.array(c_cust, dtype=np.int32), nbytes=np.array(c_bytes, dtype=np.int64),
        ip=np.array(c_ip, dtype=np.int32), device=np.array(c_dev, dtype=np.int32),
        country=np.array(c_cty, dtype=np.int32),
        local_day=np.array(c_day, dtype=np.int32), local_hour=np.array(c_hour, dtype=np.float32),
        off_hours=np.array(c_off, dtype=bool), day_customers=day_customers, out_rows=out_rows,
    )


def _alert(employee_id: str, ts: float, severity: str = "medium") -> Alert:
    return {"type": "alert", "employee_id": employee_id, "event_time": rfc3339(ts),
            "severity": severity}


# --------------------------------------------------------------------------
# static row threshold


def static_threshold(world: World, limit: int = STATIC_ROWS) -> list[Alert]:
    """An alert on every single data-out action of ``limit`` rows or more.

    What a transaction-security policy on report exports and bulk API reads
    does: stateless, instant, blind to anything under the limit.
    """
    hit = np.flatnonzero(world.data_out & (world.rows >= limit))
    return [_alert(world.employees[world.emp[i]], float(world.ts[i])) for i in hit]


# --------------------------------------------------------------------------
# per-user k-sigma on daily rows out


def three_sigma(world: World, k: float = SIGMA_K, min_days: int = SIGMA_MIN_DAYS) -> list[Alert]:
    """Per employee, alert when today's running total of rows out passes mean + k sd.

    The history is the employee's earlier local days that had data out (a
    daily ``sum(rows) by user`` over data-out events has no row for the other
    days), every such day included; no alert until it holds ``min_days`` days.
    The check runs at each data-out event, so the alert comes at the action
    that crosses the line, and at most once per employee-day.
    """
    out: list[Alert] = []
    # employee -> [day, running total, alerted today, n, mean, M2] (Welford over earlier days)
    state: dict[int, list[float]] = {}
    idx = np.flatnonzero(world.data_out)
    for e, day, rows, ts in zip(world.emp[idx].tolist(), world.local_day[idx].tolist(),
                                world.rows[idx].tolist(), world.ts[idx].tolist(), strict=True):
        st = state.get(e)
        if st is None:
            st = state[e] = [day, 0.0, 0.0, 0.0, 0.0, 0.0]
        elif st[0] != day:
            total = st[1]
            st[3] += 1
            delta = total - st[4]
            st[4] += delta / st[3]
            st[5] += delta * (total - st[4])
            st[0], st[1], st[2] = day, 0.0, 0.0
        st[1] += rows
        n = st[3]
        if st[2] or n < min_days:
            continue
        if st[1] > st[4] + k * math.sqrt(st[5] / max(n - 1, 1)):
            st[2] = 1.0
            out.append(_alert(world.employees[e], ts))
    return out


# --------------------------------------------------------------------------
# River HalfSpaceTrees on per-event features


def hst_features(world: World) -> Iterable[dict[str, float]]:
    """Generic per-event features: time, volume, action, novelty, recent activity.

    Nothing here knows about territories, customer tiers, HR status or peer
    groups; it is what a data scientist would build from an access log.
    Novelty (first IP, device or country for this employee) and the last
    hour's activity are standard UEBA features and cost one pass.  The
    channel is left out: with it, the top scores went to scheduled
    integration syncs at weekends (seen without labels, on a world of
    another seed), which would take the whole alert budget.
    """
    actions = {a: {f"action_{b}": float(a == b) for b in ACTION_ORDER} for a in ACTION_ORDER}
    ips: dict[int, set[int]] = {}
    devices: dict[int, set[int]] = {}
    countries: dict[int, set[int]] = {}
    hour_events: dict[int, deque[float]] = {}
    day_out: dict[int, deque[tuple[float, int]]] = {}
    day_out_sum: dict[int, int] = {}
    weekends = ((world.local_day + 3) % 7 >= 5).tolist()
    columns = zip(world.ts.tolist(), world.emp.tolist(), world.action.tolist(),
                  world.rows.tolist(), world.customers.tolist(), world.nbytes.tolist(),
                  world.ip.tolist(), world.device.tolist(), world.country.tolist(),
                  world.local_hour.tolist(), world.off_hours.tolist(), weekends, strict=True)
    for ts, e, a, rows, cust, nbytes, ip, dev, cty, hour, off, weekend in columns:
        out = ACTION_ORDER[a] in DATA_OUT_ACTIONS
        recent = hour_events.setdefault(e, deque())
        while recent and recent[0] <= ts - 3600:
            recent.popleft()
        recent.append(ts)
        window = day_out.setdefault(e, deque())
        total = day_out_sum.get(e, 0)
        while window and window[0][0] <= ts - DAY:
            total -= window.popleft()[1]
        if out:
            window.append((ts, rows))
            total += rows
        day_out_sum[e] = total
        angle = 2 * math.pi * hour / 24
        x = {
            "hour_sin": math.sin(angle), "hour_cos": math.cos(angle),
            "weekend": float(weekend), "off_hours": float(off),
            "log_rows": math.log1p(rows), "data_out": float(out),
            "log_customers": math.log1p(cust), "log_bytes": math.log1p(nbytes),
            "new_ip": _novel(ips, e, ip), "new_device": _novel(devices, e, dev),
            "new_country": _novel(countries, e, cty),
            "log_events_1h": math.log1p(len(recent)),
            "log_rows_out_24h": math.log1p(total),
            **actions[ACTION_ORDER[a]],
        }
        yield x


def _novel(seen: dict[int, set[int]], e: int, code: int) -> float:
    if code < 0:
        return 0.0
    mine = seen.setdefault(e, set())
    if code in mine:
        return 0.0
    news = bool(mine)  # an employee's very first value is not news
    mine.add(code)
    return float(news)


def hst_scores(world: World, seed: int = 0) -> np.ndarray:
    """Score every event before learning it (score_one, then learn_one), as River runs.

    MinMaxScaler in front, as River recommends, because half-space trees
    split the unit cube.  The model learns every event, flagged or not, so
    the scores do not depend on the threshold and one pass serves the sweep.
    """
    model = compose.Pipeline(
        preprocessing.MinMaxScaler(),
        anomaly.HalfSpaceTrees(n_trees=HST_TREES, height=HST_HEIGHT, window_size=HST_WINDOW,
                               seed=seed),
    )
    scores = np.empty(len(world.ts), dtype=np.float64)
    for i, x in enumerate(hst_features(world)):
        scores[i] = model.score_one(x)
        model.learn_one(x)
    return scores


def hst_alerts(world: World, scores: np.ndarray, q: float = HST_Q,
               warmup_days: float = HST_WARMUP_DAYS) -> list[Alert]:
    """Alert on each event whose score is above the running ``q`` quantile of earlier scores.

    The quantile is River's streaming estimate (``stats.Quantile``), updated
    with every score after the check, as ``anomaly.QuantileFilter`` does but
    strictly above it, so a block of tied scores is not flagged wholesale.
    No alert during the first ``warmup_days`` days, while the trees and the
    quantile settle.
    """
    if not len(scores):
        return []
    live = (world.ts >= world.ts.min() + warmup_days * DAY).tolist()
    est = stats.Quantile(q)
    update, get = est.update, est.get
    flagged: list[int] = []
    for i, s in enumerate(scores.tolist()):
        if live[i]:
            threshold = get()
            if threshold is not None and s > threshold:
                flagged.append(i)
        update(s)
    return [_alert(world.employees[world.emp[i]], float(world.ts[i])) for i in flagged]


# --------------------------------------------------------------------------
# IsolationForest on user-day aggregates

USER_DAY_FEATURES = (
    "log_events", "log_data_out_events", "log_rows_out", "log_max_rows_out", "log_customers",
    "off_hours_share", "ips", "countries", "devices", "weekend",
    "log_rows_out_off_hours", "rows_out_z_own", "events_z_own",
)
# Per-employee z-scores need a few earlier days, and a floor under the spread
# (in log units) so that a steady employee's first change is not infinite.
IF_Z_MIN_DAYS = 3
IF_Z_MIN_SD = 0.5


@dataclass(slots=True)
class UserDays:
    """One row per (employee, local day) with any activity."""

    emp: np.ndarray
    day: np.ndarray  # local day number
    x: np.ndarray  # columns as USER_DAY_FEATURES
    train: np.ndarray  # bool: inside the training period
    scores: np.ndarray = field(default_factory=lambda: np.empty(0))  # higher is more normal


def user_days(world: World, train_days: int) -> UserDays:
    """Daily aggregates per employee; relative features use only earlier days (no look-ahead)."""
    n_days = int(world.local_day.max()) + 2 if len(world.ts) else 1
    key = world.emp.astype(np.int64) * n_days + world.local_day
    keys, inv = np.unique(key, return_inverse=True)
    n = len(keys)
    out = world.data_out
    events = np.bincount(inv, minlength=n).astype(np.float64)
    outs = np.bincount(inv, weights=out, minlength=n)
    rows_out = np.bincount(inv, weights=np.where(out, world.rows, 0), minlength=n)
    off_rows = np.bincount(inv, weights=np.where(out & world.off_hours, world.rows, 0),
                           minlength=n)
    max_out = np.zeros(n)
    np.maximum.at(max_out, inv[out], world.rows[out])
    off_share = np.bincount(inv, weights=world.off_hours, minlength=n) / events
    emp, day = (keys // n_days).astype(np.int32), (keys % n_days).astype(np.int32)
    customers = np.array([world.day_customers.get((int(e), int(d)), 0)
                          for e, d in zip(emp, day, strict=True)], dtype=np.float64)

    def distinct(codes: np.ndarray) -> np.ndarray:
        ok, width = codes >= 0, int(codes.max(initial=0)) + 1
        pairs = np.unique(inv[ok].astype(np.int64) * width + codes[ok])
        return np.bincount(pairs // width, minlength=n).astype(np.float64)

    weekend = ((day + 3) % 7 >= 5).astype(np.float64)
    log_rows, log_events = np.log1p(rows_out), np.log1p(events)
    x = np.column_stack([
        log_events, np.log1p(outs), log_rows, np.log1p(max_out), np.log1p(customers), off_share,
        distinct(world.ip), distinct(world.country), distinct(world.device), weekend,
        np.log1p(off_rows), _own_z(emp, log_rows), _own_z(emp, log_events),
    ])
    train = (day - world.first_day) < train_days
    return UserDays(emp, day, x, train)


def _own_z(emp: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each user-day against the same employee's earlier days (rows sorted by employee, day).

    Without it a forest over everyone only finds the employees whose job is
    big exports; 0 until the employee has ``IF_Z_MIN_DAYS`` earlier days.
    """
    out = np.zeros(len(values))
    history: dict[int, list[float]] = {}
    for i, (e, v) in enumerate(zip(emp.tolist(), values.tolist(), strict=True)):
        seen = history.setdefault(e, [])
        if len(seen) >= IF_Z_MIN_DAYS:
            out[i] = (v - statistics.fmean(seen)) / max(statistics.stdev(seen), IF_Z_MIN_SD)
        seen.append(v)
    return out


def isolation_forest_scores(ud: UserDays, seed: int = 0) -> UserDays:
    """Fit on the training user-days, score them all (``score_samples``: higher is normal)."""
    model = IsolationForest(n_estimators=IF_TREES, random_state=seed)
    model.fit(ud.x[ud.train])
    ud.scores = model.score_samples(ud.x)
    return ud


def isolation_forest_alerts(world: World, ud: UserDays,
                            contamination: float = IF_CONTAMINATION) -> list[Alert]:
    """Alert on later user-days scoring below the training days' ``contamination`` quantile.

    That is what ``contamination=`` does inside scikit-learn (the offset is
    the training scores' percentile); done here by hand so that one fit
    serves every threshold.  The alert is dated at the end of the employee's
    local day: a nightly batch cannot know sooner.
    """
    train_scores = ud.scores[ud.train]
    if not len(train_scores):
        return []
    threshold = float(np.quantile(train_scores, contamination))
    hit = np.flatnonzero(~ud.train & (ud.scores < threshold))
    alerts = []
    for i in hit:
        e = int(ud.emp[i])
        end = _EPOCH + timedelta(days=int(ud.day[i]) + 1)
        at = datetime(end.year, end.month, end.day, tzinfo=ZoneInfo(world.zones[e]))
        alerts.append(_alert(world.employees[e], at.timestamp() - 0.001))
    return alerts


# --------------------------------------------------------------------------
# rows saved by a freeze at the first alert


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("z", "Z")).timestamp()  # as evaluate() reads it


def rows_saved(truth: Mapping[str, Any], alerts: Iterable[Mapping[str, Any]],
               out_rows: Mapping[str, tuple[float, int]]) -> tuple[int, int]:
    """(rows a freeze at the first alert would have kept in, rows the insiders moved out).

    Per scenario, the first alert is the one :func:`evaluate` credits (the
    employee's first alert from the scenario's start to a day after its end);
    the rows of the scenario's labelled data-out actions at or after that
    alert's time count as saved (the triggering action included, as an
    inline block would stop it).  A missed scenario saves nothing; scenarios
    without data out add nothing to either side.  Summing both sides over
    scenarios weights each by its rows.
    """
    by_kind = rows_saved_by_kind(truth, alerts, out_rows)
    return sum(s for s, _ in by_kind.values()), sum(t for _, t in by_kind.values())


def rows_saved_by_kind(truth: Mapping[str, Any], alerts: Iterable[Mapping[str, Any]],
                       out_rows: Mapping[str, tuple[float, int]]) -> dict[str, tuple[int, int]]:
    """:func:`rows_saved` per scenario kind."""
    times: dict[str, list[float]] = {}
    for a in alerts:
        if a.get("type") == "alert":
            times.setdefault(a["employee_id"], []).append(_ts(a["event_time"]))
    for lst in times.values():
        lst.sort()
    out: dict[str, tuple[int, int]] = {}
    for sc in truth.get("scenarios", []):
        moved = [out_rows[i] for i in sc.get("event_ids", []) if i in out_rows]
        total = sum(r for _, r in moved)
        start, end = _ts(sc["start"]), _ts(sc["end"]) + GRACE_SECONDS
        first = next((t for t in times.get(sc["employee_id"], []) if start <= t <= end), None)
        saved = sum(r for t, r in moved if t >= first) if first is not None else 0
        was = out.get(sc["kind"], (0, 0))
        out[sc["kind"]] = (was[0] + saved, was[1] + total)
    return out


# --------------------------------------------------------------------------
# running every method on one world


@dataclass(slots=True)
class Method:
    """A method's name, its reported setting, and the settings the plot sweeps."""

    name: str
    parameter: str
    default: float
    sweep: Sequence[float]


_BOUNDS = DecisionSettings()  # the replay runs with the defaults
OURS = Method("this detector", "alert score >=", _BOUNDS.alert,
              (_BOUNDS.alert, _BOUNDS.medium, _BOUNDS.high, _BOUNDS.critical))
STATIC = Method("static row threshold", "rows >=", STATIC_ROWS,
                (250, 500, 1000, 2000, 5000, 10000, 25000))
SIGMA = Method("per-user 3-sigma", "k =", SIGMA_K, (1.5, 2, 3, 4, 6, 10))
HST = Method("River HalfSpaceTrees", "q =", HST_Q, (0.99, 0.995, 0.999, 0.9995, 0.9999))
IFOREST = Method("IsolationForest (daily)", "contamination =", IF_CONTAMINATION,
                 (0.001, 0.003, 0.01, 0.03, 0.1))
METHODS = (OURS, STATIC, SIGMA, HST, IFOREST)


def live_days(name: str, days: int, train_days: int) -> float:
    """Days of a world on which a method can alert: rates are per day it runs.

    IsolationForest only scores after its training period, HalfSpaceTrees
    only after its warm-up; dividing their alerts by the whole world would
    make them look quieter than they are.
    """
    if name == IFOREST.name:
        return float(max(days - train_days, 1))
    if name == HST.name:
        return float(max(days - HST_WARMUP_DAYS, 1))
    return float(days)


def baseline_runs(world_: World, train_days: int, seed: int = 0
                  ) -> dict[str, Callable[[float], list[Alert]]]:
    """For each comparison method, its alerts as a function of its threshold.

    The expensive part (HST scores, the forest's fit) runs once here; the
    returned functions only re-threshold.
    """
    scores = hst_scores(world_, seed)
    forest = isolation_forest_scores(user_days(world_, train_days), seed)
    return {
        STATIC.name: lambda v: static_threshold(world_, int(v)),
        SIGMA.name: lambda v: three_sigma(world_, v),
        HST.name: lambda v: hst_alerts(world_, scores, v),
        IFOREST.name: lambda v: isolation_forest_alerts(world_, forest, v),
    }


@dataclass(slots=True)
class Tally:
    """One method's figures summed over worlds, so several seeds pool into one row."""

    scenarios: int = 0
    detected: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    false_days: int = 0
    employee_days: int = 0
    alerts: int = 0
    true_alerts: int = 0
    minutes: list[float] = field(default_factory=list)
    saved_rows: int = 0
    moved_rows: int = 0
    world_days: float = 0.0
    # Per scenario kind: (rows saved, rows moved) and minutes to detect.
    saved_by_kind: dict[str, list[int]] = field(default_factory=dict)
    minutes_by_kind: dict[str, list[float]] = field(default_factory=dict)

    def add(self, ev: Evaluation, saved: tuple[int, int], days: int, live_days: float) -> None:
        """Add one world; rates count only the ``live_days`` of ``days`` the method could alert."""
        self.scenarios += len(ev.scenarios)
        self.detected += sum(r.detected for r in ev.scenarios)
        for kind, (d, t) in ev.by_kind.items():
            acc = self.by_kind.setdefault(kind, [0, 0])
            acc[0] += d
            acc[1] += t
        self.false_days += ev.false_employee_days
        self.employee_days += round(ev.employee_days * live_days / max(days, 1))
        self.alerts += ev.alerts
        self.true_alerts += ev.true_alerts
        self.minutes += [r.minutes_to_detect for r in ev.scenarios
                         if r.minutes_to_detect is not None]
        self.saved_rows += saved[0]
        self.moved_rows += saved[1]
        self.world_days += live_days
        for r in ev.scenarios:
            if r.minutes_to_detect is not None:
                self.minutes_by_kind.setdefault(r.kind, []).append(r.minutes_to_detect)

    def add_saved_by_kind(self, by_kind: Mapping[str, tuple[int, int]]) -> None:
        for kind, (saved, moved) in by_kind.items():
            acc = self.saved_by_kind.setdefault(kind, [0, 0])
            acc[0] += saved
            acc[1] += moved

    def summary(self) -> dict[str, Any]:
        return {
            "recall": self.detected / max(self.scenarios, 1),
            "detected": self.detected,
            "scenarios": self.scenarios,
            "by_kind": {k: tuple(v) for k, v in self.by_kind.items()},
            "false_per_1000": 1000 * self.false_days / max(self.employee_days, 1),
            "precision": self.true_alerts / self.alerts if self.alerts else None,
            "median_ttd_min": statistics.median(self.minutes) if self.minutes else None,
            "rows_saved": self.saved_rows / self.moved_rows if self.moved_rows else None,
            "saved_rows": self.saved_rows,
            "moved_rows": self.moved_rows,
            "alerts_per_day": self.alerts / max(self.world_days, 1),
            "saved_by_kind": {k: tuple(v) for k, v in self.saved_by_kind.items()},
            "median_ttd_by_kind": {k: statistics.median(v)
                                   for k, v in self.minutes_by_kind.items()},
        }
