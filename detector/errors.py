"""The one error type for bad input: it always names the field at fault."""

from __future__ import annotations


class InvalidRecord(ValueError):
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

    @property
    def reason(self) -> str:
        return f"{self.field}: {self.problem}"
