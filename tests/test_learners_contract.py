"""Contract checks every learner passes, in the manner of River's estimator checks."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import (
    DistinctCounter,
    EWStat,
    HourProfile,
    PacedCounter,
    RecentSet,
    WindowSum,
    stable_hash,
)

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
