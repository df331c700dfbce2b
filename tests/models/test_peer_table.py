"""The shared peer table: exact merges, visibility at day boundaries, fold order,
and the bound on what one member can teach their group."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from models.mergeable import BIN, LogHistogram, Moments
from models.peer_table import DAY, Contribution, PeerTable, SharedPeer, poisoning_bound


def _moments(xs: list[float]) -> Moments:
    m = Moments()
    for x in xs:
        m.add(x)
    return m


@pytest.mark.parametrize("cut", [1, 7, 50, 99])
def test_merged_moments_equal_those_of_all_the_values(cut: int) -> None:
    rng = random.Random(cut)
    xs = [rng.gauss(5.0, 1.3) for _ in range(100)]
    merged = _moments(xs[:cut]).merge(_moments(xs[cut:]))
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / len(xs)
    assert merged.w == len(xs)
    assert merged.mean == pytest.approx(mean, abs=1e-12)
    assert merged.var == pytest.approx(var, rel=1e-12)


def test_merging_is_commutative() -> None:
    a, b = _moments([1.0, 4.0, 2.5]), _moments([9.0, 0.5])
    ab = _moments([1.0, 4.0, 2.5]).merge(b)
    ba = _moments([9.0, 0.5]).merge(a)
    assert (ab.w, ab.mean, ab.var) == pytest.approx((ba.w, ba.mean, ba.var), abs=1e-12)


def test_scaling_keeps_mean_and_variance() -> None:
    m = _moments([1.0, 2.0, 6.0])
    mean, var = m.mean, m.var
    m.scale(0.25)
    assert (m.w, m.mean, m.var) == pytest.approx((0.75, mean, var))


def test_histogram_quantile_is_within_a_bin_and_merges_exactly() -> None:
    rng = random.Random(3)
    xs = sorted(rng.uniform(0.0, 10.0) for _ in range(1000))
    a, b, whole = LogHistogram(), LogHistogram(), LogHistogram()
    for i, x in enumerate(xs):
        (a if i % 3 else b).add(x)
        whole.add(x)
    merged = a.merge(b)
    assert merged.bins == whole.bins
    q99 = xs[int(0.99 * len(xs)) - 1]
    assert abs(merged.quantile(0.99) - q99) <= 2 * BIN


def test_a_contribution_is_visible_only_from_the_next_day() -> None:
    table = PeerTable()
    day = 20000
    table.advance(day * DAY)
    table.contribute("sales", "e1", day, "rows", 4.0)
    table.advance(day * DAY + 80000)
    assert table.view("sales") is None
    table.advance((day + 1) * DAY)
    view = table.view("sales")
    assert view is not None and view.moments["rows"].mean == 4.0


def _fill(table: PeerTable, order: list[tuple[str, int, float]]) -> None:
    for member, day, v in order:
        table.contribute("finance", member, day, "rows", v)


def test_the_fold_does_not_depend_on_the_order_of_arrival() -> None:
    rng = random.Random(11)
    items = [(f"e{rng.randrange(8)}", 100 + rng.randrange(3), rng.gauss(5, 1))
             for _ in range(200)]
    # One member's own observations keep their order (one task sees them in turn);
    # members interleave differently, as tasks of different partition counts would.
    by_member: dict[str, list[tuple[str, int, float]]] = {}
    for it in items:
        by_member.setdefault(it[0], []).append(it)
    shuffled: list[tuple[str, int, float]] = []
    queues = [list(v) for v in by_member.values()]
    while queues:
        q = rng.choice(queues)
        shuffled.append(q.pop(0))
        if not q:
            queues.remove(q)
    t1, t2 = PeerTable(), PeerTable()
    _fill(t1, items)
    _fill(t2, shuffled)
    for t in (t1, t2):
        t.advance(103 * DAY)
    assert pickle.dumps(t1.groups) == pickle.dumps(t2.groups)


def test_one_members_day_weighs_at_most_the_cap() -> None:
    table = PeerTable(member_cap=3.0)
    for _ in range(40):
        table.contribute("ops", "busy", 5, "rows", 6.0)
    table.contribute("ops", "quiet", 5, "rows", 2.0)
    table.advance(6 * DAY)
    view = table.view("ops")
    assert view is not None
    assert view.moments["rows"].w == 4.0
    assert view.moments["rows"].mean == pytest.approx((3 * 6.0 + 2.0) / 4)


def test_a_shared_peer_reads_the_view_and_writes_contributions() -> None:
    table = PeerTable()
    a, b = SharedPeer(table, "sales"), SharedPeer(table, "sales")
    for i in range(30):
        a.bind(f"m{i % 6}", 3 * DAY + i)
        a.learn_one({"rows": 200.0 + i})
    b.bind("m0", 4 * DAY)
    assert b.stat("rows").n == 18  # six members, each capped at three a day
    assert b.stat("rows").mean == pytest.approx(math.log1p(214.5), abs=0.05)


def _group_band(insider_factor: float, honest_days: int = 14, days: int = 35,
                members: int = 8) -> tuple[float, float]:
    """The group's band top (mean + 2.5 sd of log rows) and sd after ``honest_days``
    of ordinary work and then ``days`` in which one member exports
    ``insider_factor`` times the usual, as often as they can."""
    rng = random.Random(5)
    table = PeerTable()
    for day in range(honest_days + days):
        table.advance(day * DAY)
        factor = insider_factor if day >= honest_days else 1.0
        for m in range(1, members):
            for _ in range(2):
                rows = rng.lognormvariate(5.3, 0.5)
                table.contribute("am", f"m{m}", day, "rows", math.log1p(rows))
        for _ in range(30):
            rows = factor * rng.lognormvariate(5.3, 0.5)
            table.contribute("am", "m0", day, "rows", math.log1p(rows))
    table.advance((honest_days + days) * DAY)
    view = table.view("am")
    assert view is not None
    m = view.moments["rows"]
    return m.mean + 2.5 * math.sqrt(m.var), math.sqrt(m.var)


def test_an_insider_inflating_exports_for_weeks_moves_the_band_within_the_bound() -> None:
    honest_top, honest_sd = _group_band(1.0)
    poisoned_top, _ = _group_band(50.0)
    # Seven honest members add two exports a day each, the insider at most the cap.
    share = 3.0 / (3.0 + 7 * 2.0)
    bound = poisoning_bound(share, k=2.5) * honest_sd + BIN
    assert poisoned_top > honest_top  # it does move ...
    assert poisoned_top - honest_top <= bound  # ... but no further than stated
    assert bound < math.log(2)  # less than a doubling of the group's usual top


def test_without_the_clip_the_same_insider_would_teach_the_group_bulk_exports() -> None:
    """The control: what the bound prevents is real."""
    unclipped = PeerTable(member_cap=1e9)
    rng = random.Random(5)
    for day in range(49):
        unclipped.advance(day * DAY)
        for m in range(1, 8):
            for _ in range(2):
                unclipped.add_remote(day, "am", f"m{m}{day}{_}", _one(rng.lognormvariate(5.3, 0.5)))
        if day >= 14:
            for i in range(30):
                unclipped.add_remote(day, "am", f"m0-{day}-{i}",
                                     _one(50 * rng.lognormvariate(5.3, 0.5)))
    unclipped.advance(49 * DAY)
    view = unclipped.view("am")
    assert view is not None
    honest_top, honest_sd = _group_band(1.0)
    m = view.moments["rows"]
    bound = poisoning_bound(3.0 / 17.0, k=2.5) * honest_sd + BIN
    assert m.mean + 2.5 * math.sqrt(m.var) - honest_top > bound


def _one(rows: float) -> Contribution:
    c = Contribution()
    c.add("rows", math.log1p(rows))
    return c


def test_a_contribution_survives_its_wire_form_exactly() -> None:
    rng = random.Random(2)
    c = Contribution()
    for _ in range(17):
        c.add("rows", rng.uniform(0, 9))
        c.add("rows_24h", rng.uniform(3, 12))
    c.hours[37] = 2
    c.first_ts = 1_700_000_123.25
    c.exported, c.elevated = {490_001, 490_002}, {490_002}
    back = Contribution.from_wire(c.to_wire())
    assert {k: m.__getstate__() for k, m in back.moments.items()} == {
        k: m.__getstate__() for k, m in c.moments.items()}
    assert {k: h.bins for k, h in back.hists.items()} == {k: h.bins for k, h in c.hists.items()}
    assert (back.hours, back.first_ts) == (c.hours, c.first_ts)
    assert (back.exported, back.elevated) == (c.exported, c.elevated)


def test_the_shared_surge_counts_the_others_of_the_last_24_closed_hours() -> None:
    table = PeerTable()
    day = 20_000
    t0 = day * DAY + 3600.0  # 01:00
    handles = {m: SharedPeer(table, "finance") for m in ("a", "b", "c", "d", "e")}
    for m, peer in handles.items():
        peer.bind(m, t0)
        peer.note_export(m, t0, elevated=m != "e")
    peer = handles["a"]
    # The same hour is not closed: no one counts yet.
    assert peer.surge("a", t0 + 60, 3, 0.25) == (0, 0)
    # The next hour: three others elevated (b, c, d) of four others exporting.
    peer.bind("a", t0 + 3600)
    assert peer.surge("a", t0 + 3600, 3, 0.25) == (3, 4)
    assert peer.surge("a", t0 + 3600, 4, 0.25) == (0, 4)
    # The next day, once the day is folded, still within 24 hours...
    peer.bind("a", t0 + 23 * 3600)
    assert table.day == day + 1 and day not in table.pending
    assert peer.surge("a", t0 + 23 * 3600, 3, 0.25) == (3, 4)
    # ...and not after.
    peer.bind("a", t0 + 25 * 3600)
    assert peer.surge("a", t0 + 25 * 3600, 3, 0.25) == (0, 0)
