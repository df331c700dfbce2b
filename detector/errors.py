"""The core's errors, beneath the one root (``DetectorError``, from ``models.errors``).

Bad input has one type, ``InvalidRecord``: it always names the field at fault.
"""

from __future__ import annotations

from models.errors import DetectorError, ModelError


class InvalidRecord(DetectorError, ValueError):
    """A document that does not satisfy its contract.

    ``field`` is a JSON-pointer-like path (``geo.lat``, ``customers[3].tier``) or
    ``$`` for the whole document; ``problem`` says what is wrong with it.  The
    message never quotes field values, so it is safe to log and to put in a
    dead-letter record.
    """

    def __init__(self, field: str, problem: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.code = code

    label = "invalid record: "

    @property
    def reason(self) -> str:
        return f"{self.field}: {self.problem}"


class InputError(DetectorError, ValueError):
    """A file or option a command cannot use; its message names it and is shown as it is."""


__all__ = ["DetectorError", "InputError", "InvalidRecord", "ModelError"]
