"""The audit trail: a hash-chained, append-only log of actions and analyst commands.

``chain`` holds the entries, their hashes and the checks; ``trail`` the file:
appending under a lock, resuming after a crash, reading a log to verify it.
"""

from __future__ import annotations

from detector.audit.chain import (
    ACTION,
    COMMAND,
    GENESIS,
    HEAD,
    Anchor,
    AuditError,
    Problem,
    VerifyReport,
)
from detector.audit.trail import AuditLog, load_anchors, verify

__all__ = [
    "ACTION", "COMMAND", "GENESIS", "HEAD", "Anchor", "AuditError", "AuditLog", "Problem",
    "VerifyReport", "load_anchors", "verify",
]
