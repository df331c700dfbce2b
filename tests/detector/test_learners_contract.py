"""Contract checks every learner passes, in the manner of River's estimator checks."""

from __future__ import annotations

import copy
import math
import pickle
import random
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from detector.directory import Directory
from detector.engine import Engine
from detector.scoring import SIGNALS, Case, Scorer
from detector.settings import Settings
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from models.baseline import EmployeeBaseline, PeerBaseline
from models.protocols import STATISTICS, Counting, Hourly, Univariate, Windowed
from models.stats import (
    DistinctCounter,
    EWStat,
    HourProfile,
    PacedCounter,
    RecentSet,
    WindowSum,
    stable_hash,
)
from tests.worldkit import START, World, at, employee, team

LEARNERS = [EmployeeBaseline, PeerBaseline]


def _stream(seed: int, n: int = 200) -> list[dict[str, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        rows = rng.lognormvariate(4, 0.6)
        out.append({"rows": rows, "rows_1h": rows * 1.5, "rows_24h": rows * 3,
                    "distinct_viewed_1h": rng.randint(1, 40),
                    "distinct_viewed_10m": rng.randint(1, 12)})
    return out


@pytest.mark.parametrize("cls", LEARNERS)
def test_pickle_round_trip_keeps_scores(cls: type) -> None:
    model = cls()
    for x in _stream(1):
        model.learn_one(x)
    clone = pickle.loads(pickle.dumps(model))
    probe = {"rows": 5000.0, "rows_1h": 6000.0, "rows_24h": 9000.0}
    assert clone.score_one(probe) == model.score_one(probe)
    assert clone.score_one(probe) > 0
    # Learning after the round trip proceeds identically.
    for x in _stream(2, 20):
        model.learn_one(x)
        clone.learn_one(x)
    assert clone.score_one(probe) == model.score_one(probe)


@pytest.mark.parametrize("cls", LEARNERS)
def test_clone_is_fresh_and_independent(cls: type) -> None:
    model = cls()
    for x in _stream(3):
        model.learn_one(x)
    fresh = model.clone()
    assert fresh.rows.n == 0 and model.rows.n == 200
    fresh.learn_one({"rows": 10.0})
    assert model.rows.n == 200
    assert fresh.hours is not model.hours


@pytest.mark.parametrize("cls", LEARNERS)
def test_inputs_unchanged(cls: type) -> None:
    model = cls()
    for x in _stream(4, 50):
        before = copy.deepcopy(x)
        model.score_one(x)
        model.learn_one(x)
        assert x == before


@pytest.mark.parametrize("cls", LEARNERS)
def test_score_is_zero_for_usual_and_grows_with_volume(cls: type) -> None:
    model = cls()
    for x in _stream(5):
        model.learn_one(x)
    usual = model.score_one({"rows": math.exp(4)})
    big = model.score_one({"rows": math.exp(4) * 20})
    bigger = model.score_one({"rows": math.exp(4) * 80})
    assert usual == 0.0
    assert 0 < big < bigger
    # Each quadrupling adds two doublings.
    assert bigger - big == pytest.approx(2.0, abs=0.05)


def test_ewstat_bounded_rise_resists_slow_escalation() -> None:
    free = EWStat(0.01)
    anchored = EWStat(0.01, max_rise=0.003)
    level = math.log1p(100)
    for _ in range(60):
        free.update(level)
        anchored.update(level)
    for _day in range(50):  # +4% a day, three exports a day
        level += math.log(1.04)
        for _ in range(3):
            free.update(level)
            anchored.update(level)
    grown = math.expm1(level) / 100
    assert grown > 6
    assert math.expm1(anchored.get()) < 100 * 1.8
    assert anchored.get() < free.get()


def test_ewstat_clip_bounds_a_single_outlier() -> None:
    st = EWStat(0.05)
    for _ in range(50):
        st.update(4.0)
    st.update(40.0)
    assert st.get() < 4.2


def test_window_sum_rolls_and_ignores_too_old() -> None:
    w = WindowSum(300, 12)  # one hour in five-minute buckets
    w.update(0, 10)
    w.update(1800, 5)
    assert w.get_at(1800) == 15
    assert w.get_at(3700) == 5  # the first bucket has left the hour
    w.update(7200, 1)
    assert w.get() == 1
    w.update(10, 100)  # far older than the ring: counted in nothing
    assert w.get() == 1


def test_distinct_counter_estimates_within_ten_percent() -> None:
    from models.stats import stable_hash

    c = DistinctCounter()
    for i in range(800):
        c.update(stable_hash(f"C-{i}"))
        c.update(stable_hash(f"C-{i}"))  # repeats do not count
    assert abs(c.get() - 800) / 800 < 0.1
    assert c.total == 1600


def test_small_actions_stay_out_of_the_per_action_band() -> None:
    model = EmployeeBaseline()
    for _ in range(30):
        model.learn_one({"rows": 50.0})
    before = (model.rows.n, model.rows.mean)
    model.learn_one({"rows": 1.0, "small": True})
    assert (model.rows.n, model.rows.mean) == before
    assert model.anchor.n == 31  # the anchor still counts every action


def test_paced_counter_slides_across_a_period_boundary() -> None:
    c = PacedCounter()
    c.roll(0)
    for i in range(40):
        c.update(stable_hash(f"C-{i}"))
    assert abs(c.pace(0.5) - 40) / 40 < 0.1  # nothing earlier to carry
    c.roll(1)
    for i in range(40, 50):
        c.update(stable_hash(f"C-{i}"))
    # A quarter into the next period, three quarters of the last one still count.
    assert abs(c.pace(0.25) - (10 + 0.75 * 40)) < 4
    assert abs(c.pace(1.0) - 10) < 2
    clone = pickle.loads(pickle.dumps(c))
    assert clone.pace(0.25) == c.pace(0.25) and clone.period == 1
    c.roll(5)  # a gap: nothing carries over
    assert c.pace(0.0) == 0.0
    # The busiest finished period is kept until taken, once.
    assert abs(c.take_peak() - 40) / 40 < 0.1
    assert c.take_peak() == 0.0


def test_recent_set_keeps_most_recent() -> None:
    s = RecentSet(3)
    for h in (1, 2, 3, 1, 4):
        s.update(h)
    assert 1 in s and 3 in s and 4 in s and 2 not in s


def test_hour_profile_counts_active_hours_not_events() -> None:
    p = HourProfile()
    for day in range(20):
        for hour in range(9, 17):
            for _ in range(30):
                p.add(day * 24 + hour, (day % 5) * 24 + hour)
    for _ in range(200):  # one very busy odd night
        p.add(10_000, 2 * 24 + 2)
    _week, day = p.typicality(2 * 24 + 2)
    assert day < 0.15
    week_usual, day_usual = p.typicality(2 * 24 + 10)
    assert day_usual > 0.5 and week_usual > 0.5


# -- every statistic: the checks River's check_estimator makes, for our protocols ---------

def _updates(proto: type, seed: int, n: int = 300) -> list[tuple[Any, ...]]:
    """Arguments for ``update`` under each protocol, from a seeded generator."""
    rng = random.Random(seed)
    if proto is Univariate:
        return [(rng.lognormvariate(3, 1),) for _ in range(n)]
    if proto is Windowed:
        return [(i * 97.0, rng.randint(1, 500)) for i in range(n)]
    if proto is Counting:
        return [(stable_hash(f"C-{rng.randrange(400)}"),) for _ in range(n)]
    assert proto is Hourly
    return [(h, h % 168) for h in sorted(rng.randrange(2000) for _ in range(n))]


STATS = sorted(STATISTICS.items(), key=lambda kv: kv[0].__name__)


@pytest.mark.parametrize(("cls", "proto"), STATS, ids=[c.__name__ for c, _ in STATS])
def test_statistic_follows_its_protocol(cls: type, proto: type) -> None:
    st = cls()
    assert isinstance(st, proto)
    assert not hasattr(st, "__dict__")  # slots only: per-employee state stays small
    for args in _updates(proto, 1, 20):
        assert st.update(*args) is st


@pytest.mark.parametrize(("cls", "proto"), STATS, ids=[c.__name__ for c, _ in STATS])
def test_statistic_pickle_round_trip_then_learns_identically(cls: type, proto: type) -> None:
    st = cls()
    stream = _updates(proto, 2, 350)
    for args in stream[:300]:
        st.update(*args)
    clone = pickle.loads(pickle.dumps(st))
    assert clone.get() == st.get()
    for args in stream[300:]:
        st.update(*args)
        clone.update(*args)
        assert clone.get() == st.get()
    assert pickle.dumps(clone) == pickle.dumps(st)


@pytest.mark.parametrize(("cls", "proto"), STATS, ids=[c.__name__ for c, _ in STATS])
def test_statistic_copies_are_independent(cls: type, proto: type) -> None:
    st = cls()
    stream = _updates(proto, 4, 350)  # in time order: the copies learn what comes next
    for args in stream[:300]:
        st.update(*args)
    before = pickle.dumps(st)
    for copied in (pickle.loads(pickle.dumps(st)), copy.deepcopy(st)):
        for args in stream[300:]:
            copied.update(*args)
        assert pickle.dumps(copied) != before
    assert pickle.dumps(st) == before


@pytest.mark.parametrize(("cls", "proto"), STATS, ids=[c.__name__ for c, _ in STATS])
def test_statistic_get_changes_nothing(cls: type, proto: type) -> None:
    st = cls()
    for args in _updates(proto, 6):
        st.update(*args)
        before = pickle.dumps(st)
        st.get()
        assert pickle.dumps(st) == before


# -- every signal ---------------------------------------------------------------

# The reason codes are a published contract (README, "What it catches"; the action
# schema): never reworded, a new meaning gets a new code.
REASON_CODES = {
    "unknown_employee", "status_change", "terminated_account", "account_on_leave",
    "after_last_day", "notice_period", "volume_action", "volume_1h", "volume_24h",
    "chunked_exports", "peer_surge", "volume_escalation", "out_of_territory", "off_hours",
    "high_value_customers", "view_harvesting", "new_device", "new_country",
    "impossible_travel", "repeated_lookups", "mass_delete", "mass_update",
    "concurrent_sessions", "export_burst", "export_frequency_rise", "notice_volume",
}


def test_reason_codes_are_declared_once_and_stable() -> None:
    signals = [make(Settings().scoring) for make in SIGNALS]
    declared = [code for s in signals for code in s.codes]
    assert len(declared) == len(set(declared))
    assert set(declared) == REASON_CODES


@pytest.mark.parametrize("make", SIGNALS, ids=[m.__name__ for m in SIGNALS])
def test_signal_pickle_round_trip(make: Any) -> None:
    signal = make(Settings().scoring)
    clone = pickle.loads(pickle.dumps(signal))
    assert type(clone) is type(signal) and clone.codes == signal.codes
    assert clone.s == signal.s


def _eventful_world() -> World:
    """Ordinary weeks for a team, then one of each kind of trouble."""
    w = World(11)
    ids = team(w, n=5, days=30)
    w.add(employee("E900", status="notice", updated=START + timedelta(days=20)))
    w.workdays("E900", 0, 30)
    w.add(employee("E901", status="terminated", updated=START + timedelta(days=25)))
    w.workdays("E901", 0, 24)
    w.event("E901", at(27, 10), "export", 300)
    w.event(ids[0], at(31, 23), "export", 4000)  # off hours, large
    w.event(ids[1], at(31, 11), "export", 900, {"FR-South": 900})  # out of territory
    for i in range(6):  # chunks
        w.event(ids[2], at(31, 10, 5 * i), "export", 400)
    for i in range(120):  # a harvest
        w.event(ids[3], at(31, 14) + timedelta(seconds=20 * i), "view",
                customers=[{"id": f"H-{i}", "territory": "DE-North", "tier": "high"}])
    w.event(ids[4], at(31, 9), "view")
    w.event(ids[4], at(31, 9, 30), "view", device_id="dev-new",
            geo={"country": "SG", "city": "Singapore", "lat": 1.35, "lon": 103.8})
    w.event("E900", at(31, 15), "export", 2500, tiers={"high": 2000, "low": 500})
    w.event("E999", at(31, 12), "export", 50)  # not in the directory
    return w


def test_assessing_never_changes_a_baseline_and_gives_only_declared_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: set[str] = set()
    checked = [0]

    def checking(signal: Any) -> Any:
        assess = signal.assess

        def wrapped(case: Case) -> None:
            before = pickle.dumps((case.emp, case.peer, case.glob))
            n = len(case.reasons)
            assess(case)
            assert pickle.dumps((case.emp, case.peer, case.glob)) == before, signal
            for reason in case.reasons[n:]:
                assert reason.code in signal.codes, (signal, reason.code)
                seen.add(reason.code)
            checked[0] += 1

        return wrapped

    original = Scorer.__init__

    def init(self: Scorer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for signal in self.signals:
            signal.assess = checking(signal)  # type: ignore[method-assign]

    monkeypatch.setattr(Scorer, "__init__", init)
    actions, _ = _eventful_world().run()
    assert checked[0] > 1000
    assert actions
    # The world exercises most signals, so the check above was not vacuous.
    assert {"terminated_account", "off_hours", "out_of_territory", "view_harvesting",
            "impossible_travel", "notice_period"} <= seen


def test_baselines_after_a_pickle_round_trip_decide_identically() -> None:
    w = _eventful_world()
    events = sorted(w.events, key=lambda e: datetime.fromisoformat(e["timestamp"]))
    cut = len(events) // 2

    def engine() -> Engine:
        directory = Directory()
        for rec in w.records:
            directory.add(parse_employee(orjson.dumps(rec)))
        return Engine(Settings(), directory, clock=lambda: 0.0)

    plain, restored = engine(), engine()
    out_plain, out_restored = [], []
    for i, ev in enumerate(events):
        if i == cut:
            restored.adopt_baselines(pickle.loads(pickle.dumps(restored.export_baselines())))
        parsed = parse_event(orjson.dumps(ev))
        out_plain += [a.to_dict() for a in plain.process(parsed)]
        out_restored += [a.to_dict() for a in restored.process(parsed)]
    assert out_plain and out_plain == out_restored
