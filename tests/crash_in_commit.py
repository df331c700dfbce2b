"""``CRASH_IN_COMMIT=N python tests/crash_in_commit.py``: the detector, killed with SIGKILL inside
its N-th checkpoint that publishes actions, after the records reached the broker
and before the commit.

A SIGKILL from outside hits that moment only by chance; this is the same crash,
on purpose, so a test can count on a transaction with records being left open
(and aborted by the next owner's fencing).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from kafka import KafkaProducer

import consumers.checkpoint
from consumers.cli import main

OUTPUTS = {os.environ["INSIDER_TOPICS__ALERTS"], os.environ["INSIDER_TOPICS__FREEZE_COMMANDS"]}
_send = KafkaProducer.send
# The service ends each transaction through this bounded helper (offsets, then commit).
_commit = consumers.checkpoint.commit_offsets_and_transaction
_with_actions: set[int] = set()  # producers whose open transaction holds an action
_commits_with_actions = 0


def send(self: KafkaProducer, topic: str, *args: Any, **kwargs: Any) -> Any:
    if topic in OUTPUTS:
        _with_actions.add(id(self))
    return _send(self, topic, *args, **kwargs)


def commit_transaction(self: KafkaProducer, *args: Any, **kwargs: Any) -> Any:
    global _commits_with_actions
    if id(self) in _with_actions:
        _with_actions.discard(id(self))
        _commits_with_actions += 1
        if _commits_with_actions == int(os.environ["CRASH_IN_COMMIT"]):
            self.flush()  # the records are on the broker, the transaction open
            os.kill(os.getpid(), signal.SIGKILL)
    return _commit(self, *args, **kwargs)


if __name__ == "__main__":
    KafkaProducer.send = send
    consumers.checkpoint.commit_offsets_and_transaction = commit_transaction  # type: ignore[assignment]
    sys.exit(main(["run"]))
