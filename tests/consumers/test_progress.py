"""The progress watchdog's rule, on its own: stalled when an assigned partition's
position has not moved on for stall_seconds while it had something to read."""

from __future__ import annotations

from consumers.progress import ProgressWatch, Standing

EV0, EV1, CMD0 = ("events", 0), ("events", 1), ("commands", 0)


def test_only_a_partition_with_input_waiting_and_no_progress_is_stalled() -> None:
    watch = ProgressWatch(stall_seconds=10.0)
    watch.observe(0.0, {EV0: Standing(5, 100), EV1: Standing(7, 7), CMD0: Standing(0, 0)})
    # EV1 has nothing to read until 9 s: its clock starts there.
    watch.observe(9.0, {EV0: Standing(5, 100), EV1: Standing(7, 7), CMD0: Standing(0, 0)})
    assert watch.stalled == frozenset()
    watch.observe(10.0, {EV0: Standing(5, 100), EV1: Standing(7, 9), CMD0: Standing(0, 0)})
    assert watch.stalled == {EV0}
    assert watch.watched == {EV0, EV1, CMD0}
    watch.observe(19.5, {EV0: Standing(6, 100), EV1: Standing(7, 9), CMD0: Standing(0, 0)})
    assert watch.stalled == {EV1}


def test_a_dropped_or_reopened_task_is_no_progress_and_an_unknown_end_counts_as_waiting(
) -> None:
    watch = ProgressWatch(stall_seconds=10.0)
    watch.observe(0.0, {EV0: Standing(50, 100)})
    watch.observe(4.0, {EV0: Standing(None, 100)})   # dropped after a failed checkpoint
    watch.observe(8.0, {EV0: Standing(20, 100)})     # reopened at the committed offset
    watch.observe(10.0, {EV0: Standing(20, 100)})
    assert watch.stalled == {EV0}
    watch.observe(11.0, {EV0: Standing(21, 100)})
    assert watch.stalled == frozenset()
    watch.observe(21.0, {EV0: Standing(21, None)})  # no fetch answer since
    assert watch.stalled == {EV0}


def test_a_partition_no_longer_assigned_is_forgotten() -> None:
    watch = ProgressWatch(stall_seconds=1.0)
    watch.observe(0.0, {EV0: Standing(0, 10)})
    watch.observe(5.0, {EV0: Standing(0, 10)})
    assert watch.stalled == {EV0}
    watch.observe(6.0, {})
    watch.observe(6.5, {EV0: Standing(0, 10)})  # assigned again: a fresh clock
    assert watch.stalled == frozenset() and watch.watched == {EV0}
