"""The root of every error the detector raises on purpose.

Defined here, in the lowest layer, so that ``models`` can raise its own
errors beneath it without importing the core; ``detector.errors`` re-exports
it and adds the core's.  The command line turns any of them into one line on
stderr and ``exit_code``, so a new error needs no new handler.
"""

from __future__ import annotations

from typing import ClassVar


class DetectorError(Exception):
    """Something the detector refuses, with a message safe to show and log
    (it never quotes customer data)."""

    # Exit status of a command that stopped on this error, and what its one
    # line on stderr starts with after ``error: ``.
    exit_code: ClassVar[int] = 2
    label: ClassVar[str] = ""

    def cli_message(self) -> str:
        return f"error: {self.label}{self}"


class ModelError(DetectorError):
    """Learned state that cannot be trusted: damaged, foreign, or signed with
    another key."""
