"""A tamper-evident audit trail of every action and analyst command.

Security reviews ask "what did the detector decide, and what did analysts do
about it?", and the people being reviewed may be able to edit files.  So the
trail is append-only JSON Lines where each entry commits to the one before it:

* ``seq``: 0, 1, 2, … with no gaps; ``at``: the entry's event time (ISO 8601);
  ``kind``: ``action``, ``command`` or ``head``; ``body``: the action or
  command object as published (never a customer id: actions carry none).
* ``prev``: hex SHA-256 of the previous entry's line (:data:`GENESIS` for seq 0),
  so changing, dropping, adding or moving any line breaks the chain;
* ``hash``: SHA-256 of the canonical entry without ``hash``, or HMAC-SHA256
  with a key, so that someone without the key cannot rewrite the chain.

Lines are canonical JSON (orjson, sorted keys): the bytes, not only the
content, are what the chain protects.  A chain alone cannot show that its end
was cut off, so the head ``(seq, hash)`` is meant to be published elsewhere
(the service sends it to a Kafka topic); :func:`verify` checks a file against
those anchors.  A ``head`` entry records, inside the log, the head it names.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from detector.audit.chain import (
    GENESIS,
    HEAD,
    KINDS,
    SORTED,
    Anchor,
    AuditError,
    Columns,
    Line,
    Problem,
    VerifyReport,
    check_chain,
    check_key,
    entry_hash,
    head_claim,
    iso_time,
    local_problem,
    read_line,
)

_TAIL_CHUNK = 1 << 16


class AuditLog:
    """The appending end of a log file; one writer at a time (an exclusive lock).

    Entries go through a buffer: :meth:`flush` makes them durable.  A crash
    can leave a partial last line, which :meth:`open` refuses to append after
    unless told to ``repair`` (see there).
    """

    def __init__(self, fh: IO[bytes], key: bytes | None, seq: int, prev: str, head: str) -> None:
        self._fh = fh
        self._key = key
        self._seq = seq  # the next entry's
        self._prev = prev  # SHA-256 of the last line
        self._head = head  # the last entry's hash

    @classmethod
    def open(cls, path: str | os.PathLike[str], key: bytes | None = None, *,
             repair: bool = False) -> AuditLog:
        """Open (or create) a log and continue its chain.

        The last two entries are checked (shape, hash, seq and link) so that a
        bad key or a damaged end is noticed before anything is chained to it;
        the rest is :func:`verify`'s job.  A partial last line (a write cut
        short by a crash) raises :class:`AuditError`; with ``repair`` its bytes
        are moved to ``<path>.torn`` and the log continues from the last
        complete entry, which is explicit and leaves the evidence.  Raises
        OSError when the file cannot be opened, ValueError for an empty key.
        """
        check_key(key)
        path = Path(path)
        fh = open(path, "a+b")  # noqa: SIM115 - owned by the AuditLog
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AuditError(f"{path}: another process is appending to it") from None
            size = fh.seek(0, os.SEEK_END)
            torn, tail = _read_tail(fh, size)
            if torn:
                line_no = _count_lines(fh) + 1
                side = path.with_name(path.name + ".torn")
                if not repair:
                    raise AuditError(
                        f"{path}: line {line_no} is a partial write ({len(torn)} bytes without a "
                        f"newline); open it with repair=True to move them to {side} and go on")
                with open(side, "ab") as out:
                    out.write(torn + b"\n")
                    out.flush()
                    os.fsync(out.fileno())
                fh.truncate(size - len(torn))
                os.fsync(fh.fileno())
            log = cls(fh, key, 0, GENESIS, GENESIS)
            if tail:
                log._resume(path, fh, tail)
            return log
        except BaseException:
            fh.close()
            raise

    def _resume(self, path: Path, fh: IO[bytes], tail: list[bytes]) -> None:
        lines = [read_line(raw, 0, self._key) for raw in tail]
        last = lines[-1]
        problem: str | None = None
        if isinstance(last, Problem) or not last.sound:
            problem = "does not verify (damaged, or the wrong key)"
        elif len(lines) == 1:
            if (last.doc["seq"], last.doc["prev"]) != (0, GENESIS):
                problem = "does not follow the genesis entry"
        else:
            before = lines[0]
            if isinstance(before, Problem) or not before.sound:
                problem = "follows an entry that does not verify"
            elif (last.doc["seq"] != before.doc["seq"] + 1
                  or last.doc["prev"] != hashlib.sha256(tail[0]).hexdigest()):
                problem = "does not chain to the entry before it"
        if problem is not None:
            line_no = _count_lines(fh)
            raise AuditError(f"{path}: the last entry (line {line_no}) {problem}; "
                             "run `insider-detector audit verify` before appending")
        assert isinstance(last, Line)
        self._seq = last.doc["seq"] + 1
        self._prev = hashlib.sha256(tail[-1]).hexdigest()
        self._head = last.doc["hash"]

    def append(self, kind: str, body: Mapping[str, Any], at: str | float | datetime
               ) -> dict[str, Any]:
        """Chain one entry and write it (buffered); returns the entry as written.

        Raises ValueError for an unknown kind or a bad ``at``, TypeError when
        ``body`` is not JSON (orjson's rules); nothing is written then.
        """
        if kind not in KINDS:
            raise ValueError("kind must be one of " + ", ".join(KINDS))
        if kind == HEAD and head_claim(body) is None:
            raise ValueError("a head entry's body must be {seq, hash}")
        entry: dict[str, Any] = {"seq": self._seq, "at": iso_time(at), "kind": kind,
                                 "body": body, "prev": self._prev}
        entry["hash"] = entry_hash(orjson.dumps(entry, option=SORTED), self._key)
        line = orjson.dumps(entry, option=SORTED)
        if orjson.dumps(orjson.loads(line), option=SORTED) != line:
            raise ValueError("body does not survive a JSON round trip unchanged")
        self._fh.write(line + b"\n")
        self._seq += 1
        self._prev = hashlib.sha256(line).hexdigest()
        self._head = entry["hash"]
        return entry

    def head(self) -> Anchor:
        """(seq, hash) of the last entry: what to publish; (-1, GENESIS) while empty."""
        return self._seq - 1, self._head

    def mark_head(self, at: str | float | datetime) -> Anchor:
        """Record the current head in the log itself; returns the new head to publish."""
        seq, value = self.head()
        if seq < 0:
            raise ValueError("the log is empty: there is no head to mark")
        self.append(HEAD, {"seq": seq, "hash": value}, at)
        return self.head()

    def flush(self) -> None:
        """Make everything appended so far durable (write, then fsync)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self.flush()
            finally:
                self._fh.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _read_tail(fh: IO[bytes], size: int) -> tuple[bytes, list[bytes]]:
    """(bytes after the last newline, the last two complete lines at most)."""
    pos, data = size, b""
    while pos > 0 and data.count(b"\n") < 3:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
    cut = data.rfind(b"\n") + 1
    lines = data[:cut].split(b"\n")[:-1]
    if pos > 0:
        lines = lines[1:]  # may start mid-line
    return data[cut:], lines[-2:]


def _count_lines(fh: IO[bytes]) -> int:
    fh.seek(0)
    return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(_TAIL_CHUNK), b""))


# --------------------------------------------------------------------------
# checking


def verify(path: str | os.PathLike[str], key: bytes | None = None,
           anchors: Iterable[Anchor] | None = None) -> VerifyReport:
    """Walk a log and name every problem: which line, which seq, what happened.

    Each line is checked on its own (JSON, shape, canonical bytes, hash), then
    across lines by seq: gaps (deleted), repeats (duplicated or inserted),
    order (reordered), links (``prev``), head entries, and the published
    ``anchors`` (a cut-off end).  Raises OSError when the file cannot be read.
    Streams the file, keeping a few hundred bytes per entry for the checks
    across lines.
    """
    check_key(key)
    cols = Columns()
    problems: list[Problem] = []
    unreadable: list[int] = []
    heads: list[tuple[int, Anchor]] = []  # (record, what its head entry names)
    with open(path, "rb") as fh:
        line_no = 0
        for raw in fh:
            line_no += 1
            if raw[-1:] != b"\n":
                problems.append(Problem("torn", f"truncated final line at line {line_no}: "
                                        "partial write (no newline at the end)", line_no))
                break
            read = read_line(raw[:-1], line_no, key)
            if isinstance(read, Problem):
                problems.append(read)
                unreadable.append(line_no)
                continue
            local = local_problem(read, line_no)
            if local is not None:
                problems.append(local)
            if read.doc["kind"] == HEAD:
                claim = head_claim(read.doc["body"])
                assert claim is not None
                heads.append((len(cols), claim))
            cols.add(line_no, raw[:-1], read)
    return check_chain(cols, problems, unreadable, heads, anchors or ())


def load_anchors(path: str | os.PathLike[str]) -> list[Anchor]:
    """Published heads from JSON Lines, one ``{"seq": N, "hash": "…"}`` a line.

    Other fields are ignored; blank lines are skipped.  Raises ValueError
    naming the first bad line, OSError when the file cannot be read.
    """
    anchors: list[Anchor] = []
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                doc = None
            claim = head_claim(doc) if isinstance(doc, dict) else None
            if claim is None or claim[0] < 0:
                raise ValueError(f"line {line_no}: not a published head "
                                 '({"seq": N, "hash": 64 hex digits})')
            anchors.append(claim)
    return anchors
