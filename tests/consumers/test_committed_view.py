"""The accounting of aborted transactions (committed_view.py): its rules on made-up
transactions, and on the broker a transaction really left open by a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from test_service import _keyed, _prepared, _replay_run, _start, _state_events, _stop, _wait

from consumers.broker import EmbeddedBroker
from consumers.provenance import INPUT, PRODUCER, InputRange, encode_producer
from tests.committed_view import Seen, Txn, aborted_transactions, account, check_committed_view
from tests.kafka_kit import committed_total, produce, settings_env

ROOT = Path(__file__).resolve().parents[2]


def _txn(p: int, e: tuple[int, int], epoch: int, c: tuple[int, int] = (0, 0)) -> Txn:
    return Txn(InputRange(p, e[0], e[1], c[0], c[1]), 7, epoch)


def test_a_range_read_again_by_a_later_epoch_was_aborted() -> None:
    first = _txn(0, (0, 10), 0)  # committed: the next one starts where it ended
    aborted = _txn(0, (10, 20), 0)
    redo = _txn(0, (10, 25), 1)  # a new owner read 10.. again
    other = _txn(1, (10, 20), 0)  # another partition: unrelated
    assert aborted_transactions([first, aborted, redo, other],
                                {0: (25, 0), 1: (20, 0)}) == {aborted}


def test_a_range_beyond_the_committed_positions_was_aborted() -> None:
    done = _txn(0, (0, 10), 3)
    open_at_end = _txn(0, (10, 12), 3)
    commands = _txn(1, (5, 5), 2, c=(0, 2))  # consumed commands the group never committed
    assert aborted_transactions([done, open_at_end, commands],
                                {0: (10, 0), 1: (5, 1)}) == {open_at_end, commands}


def test_a_committed_transaction_is_never_counted_aborted() -> None:
    txns = [_txn(0, (i * 10, i * 10 + 10), i // 2) for i in range(6)]
    assert aborted_transactions(txns, {0: (60, 0)}) == set()


def _seen(action_id: str, txn: Txn, offset: int) -> Seen:
    s = txn.span
    return Seen("alerts", 0, offset, orjson.dumps({"action_id": action_id}), {
        "action_id": action_id.encode(), INPUT: s.encode(),
        PRODUCER: encode_producer((txn.producer_id, txn.epoch))})


def test_duplicates_outside_aborted_transactions_are_reported() -> None:
    a, b = _txn(0, (0, 10), 0), _txn(0, (10, 20), 0)
    redo = _txn(0, (10, 20), 1)
    seen = [_seen("x", a, 0), _seen("y", b, 1), _seen("y", redo, 2)]
    acc = account(seen, {0: (20, 0)})
    assert acc.duplicates == 1 and acc.in_aborted == 1 and not acc.unexplained
    assert sorted(x["action_id"] for x in acc.committed) == ["x", "y"]
    twice = account([*seen, _seen("x", a, 3)], {0: (20, 0)})  # a copy in a committed one
    assert twice.unexplained == ["x"]


def test_a_crash_inside_a_commit_leaves_records_that_are_shown_aborted(
    broker: EmbeddedBroker, small_world: Path, tmp_path: Path
) -> None:
    """The detector dies after its transaction's records reached the broker, before
    the commit; the next owner fences and aborts it.  Tansu still serves those
    records to read-committed readers: the accounting must find each of them."""
    s, events = _prepared(broker, small_world, 2)
    produce(broker.bootstrap, s.topics.events, _keyed(events))
    env = {**os.environ, **settings_env(s), "PYTHONPATH": str(ROOT), "CRASH_IN_COMMIT": "2"}
    with open(tmp_path / "crash.log", "ab") as log:
        crashing = subprocess.run([sys.executable, str(ROOT / "tests" / "crash_in_commit.py")],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                  timeout=300)
    assert crashing.returncode == -9, (tmp_path / "crash.log").read_text()[-2000:]
    last = _start(s, tmp_path / "last.log")
    try:
        _wait(lambda: committed_total(broker.bootstrap, s.kafka.group_id, s.topics.events)
              == len(events), timeout=180, what="the second run to finish")
        assert _stop(last) == 0
    finally:
        if last.poll() is None:
            last.kill()
    want, scored = _replay_run(small_world, events, 2)
    acc = check_committed_view(broker.bootstrap, s, want)
    assert acc.aborted and acc.in_aborted > 0, "the open transaction's records were not seen"
    assert acc.duplicates > 0, "the aborted actions were decided again and published"
    assert _state_events(s, 2, broker) == scored
