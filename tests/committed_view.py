"""The committed view (consumers/committed_view.py) checked against replay in the tests.

See consumers/committed_view.py for how aborted transactions are shown from the
provenance headers alone, without the broker's help.
"""

from __future__ import annotations

from typing import Any

from consumers.committed_view import (
    Accounting,
    Seen,
    Txn,
    aborted_transactions,
    account,
    committed_positions,
    read_as_served,
)
from detector.settings import Settings

__all__ = ["Seen", "Txn", "aborted_transactions", "account", "check_committed_view"]


def check_committed_view(bootstrap: str, s: Settings,
                         want: list[dict[str, Any]]) -> Accounting:
    """Every action exactly once once aborted transactions are set aside, and the
    committed view equal to ``want`` (replay's actions, without ``decided_at``)."""
    seen = read_as_served(bootstrap, [s.topics.alerts, s.topics.freeze_commands])
    acc = account(seen, committed_positions(bootstrap, s))
    print(f"\nread committed on the test broker: {acc.summary()}")
    assert not acc.unexplained, (
        f"not exactly once outside aborted transactions: {acc.unexplained[:5]}; "
        f"{acc.summary()}")
    for a in acc.committed:
        a.pop("decided_at", None)  # wall-clock time of the decision
    assert {a["action_id"]: a for a in acc.committed} == {a["action_id"]: a for a in want}
    return acc
