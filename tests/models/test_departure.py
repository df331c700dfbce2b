"""The notice window: ordinary days learned before notice, summed after it."""

from __future__ import annotations

import pickle

from models.departure import NoticeWindow


def _days(w: NoticeWindow, rows: list[int], first: int = 0, notice: bool = False) -> int:
    for i, r in enumerate(rows):
        w.touch(first + i, notice)
        w.add(r)
    return first + len(rows)


def test_days_before_notice_teach_and_days_after_are_summed() -> None:
    w = NoticeWindow()
    nxt = _days(w, [100, 300])
    assert not w.in_window()
    nxt = _days(w, [700, 500], nxt, notice=True)
    assert w.learned_days() == 2  # the first notice day closed the last ordinary one
    assert w.sums() == (1200, 400, w.sums()[2], 2)
    assert w.sums()[2] > 0


def test_a_flagged_day_is_not_learned_and_a_month_end_is_neither_learned_nor_summed() -> None:
    w = NoticeWindow()
    w.touch(0, False)
    w.add(5000)
    w.flag()
    w.touch(1, False, counted=False)
    w.add(9000)
    w.touch(2, False)
    w.add(100)
    w.touch(3, True, counted=False)
    w.add(8000)
    assert not w.in_window()  # a month-end day is not judged
    w.touch(4, True)
    w.add(50)
    assert w.learned_days() == 1
    rows, expected, _, days = w.sums()
    assert (rows, expected, days) == (50, 100, 1)


def test_the_window_ends_when_notice_is_withdrawn() -> None:
    w = NoticeWindow()
    nxt = _days(w, [10] * 5)
    nxt = _days(w, [900, 900], nxt, notice=True)
    w.touch(nxt, False)
    assert not w.in_window()
    w.touch(nxt + 1, True)
    assert w.sums()[0] == 0 and w.sums()[3] == 1  # a new window starts empty


def test_pickle_round_trip_and_independent_copies() -> None:
    w = NoticeWindow()
    _days(w, [10, 20, 30])
    copy = pickle.loads(pickle.dumps(w))
    assert pickle.dumps(copy) == pickle.dumps(w)
    copy.touch(9, True)
    copy.add(1000)
    assert not w.in_window() and copy.in_window()
