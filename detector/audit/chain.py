"""The audit trail's hash chain: entries, their hashes, and the checks that find
every change to a log (see ``detector.audit.trail`` for the file it lives in).

Each entry commits to the one before it: ``prev`` is the hex SHA-256 of the
previous entry's line (:data:`GENESIS` for seq 0), and ``hash`` the SHA-256
of the canonical entry without ``hash`` (HMAC-SHA256 with a key).  Lines are
canonical JSON (orjson, sorted keys): the bytes, not only the content, are
what the chain protects.  Nothing here touches a file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from detector.errors import DetectorError
from detector.wire.times import parse_timestamp

ACTION = "action"
COMMAND = "command"
HEAD = "head"
KINDS = (ACTION, COMMAND, HEAD)
GENESIS = "0" * 64
FIELDS = ("at", "body", "hash", "kind", "prev", "seq")
SORTED = orjson.OPT_SORT_KEYS
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_SEQ = 2**62

Anchor = tuple[int, str]


class AuditError(DetectorError):
    """The log cannot be appended to: another writer holds it, or its tail is torn or bad."""

    label = "audit log: "


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a log: ``text`` names the line and seq, ``code`` is for programs.

    Codes: modified, not_canonical, invalid_json, malformed, torn (one line on
    its own); deleted, inserted, duplicate, reordered, chain (across lines);
    head_mismatch, truncated (head entries and published anchors); wrong_key.
    """

    code: str
    text: str
    line: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0
    head: Anchor | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [p.text for p in self.problems]


def check_key(key: bytes | None) -> None:
    if key is not None and not key:
        raise ValueError("the key is empty: pass None for an unkeyed log")


def entry_hash(unhashed: bytes, key: bytes | None) -> str:
    if key is None:
        return hashlib.sha256(unhashed).hexdigest()
    return hmac.new(key, unhashed, hashlib.sha256).hexdigest()


def iso_time(at: str | float | datetime) -> str:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("at: a datetime needs a time zone")
        text = at.isoformat()
    elif isinstance(at, str):
        text = at
    elif isinstance(at, (int, float)) and not isinstance(at, bool):
        text = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    else:
        raise TypeError("at must be an ISO 8601 string, epoch seconds or a datetime")
    if parse_timestamp(text) is None:
        raise ValueError("at must be an ISO 8601 date-time with an offset")
    return text


# --------------------------------------------------------------------------
# one line


def _shape(doc: Any) -> str | None:
    """What makes a parsed line not an entry, or None."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    for name in FIELDS:
        if name not in doc:
            return f"missing field {name}"
    if len(doc) != len(FIELDS):
        extra = sorted(k for k in doc if k not in FIELDS)[0]
        return f"unknown field {extra[:40]!r}"
    seq = doc["seq"]
    if type(seq) is not int or not 0 <= seq < _MAX_SEQ:
        return "seq must be an integer >= 0"
    at = doc["at"]
    if not isinstance(at, str) or parse_timestamp(at) is None:
        return "at must be an ISO 8601 date-time with an offset"
    if doc["kind"] not in KINDS:
        return "kind must be one of " + ", ".join(KINDS)
    if not isinstance(doc["body"], dict):
        return "body must be an object"
    for name in ("prev", "hash"):
        value = doc[name]
        if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
            return f"{name} must be 64 lowercase hex digits"
    if doc["kind"] == HEAD and head_claim(doc["body"]) is None:
        return "a head entry's body must be {seq, hash}"
    return None


def head_claim(body: Mapping[str, Any]) -> Anchor | None:
    seq, value = body.get("seq"), body.get("hash")
    if type(seq) is not int or not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        return None
    return seq, value


@dataclass(slots=True)
class Line:
    """A line that has the shape of an entry, with what its own bytes say about it."""

    doc: dict[str, Any]
    hash_ok: bool
    canonical: bool

    @property
    def sound(self) -> bool:
        return self.hash_ok and self.canonical


def read_line(raw: bytes, line_no: int, key: bytes | None) -> Line | Problem:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = " (empty line)" if not raw.strip() else f" (column {exc.colno})"
        return Problem("invalid_json", f"invalid JSON at line {line_no}{where}", line_no)
    problem = _shape(doc)
    if problem is not None:
        seq = doc.get("seq") if isinstance(doc, dict) else None
        seq = seq if type(seq) is int else None
        at = f"line {line_no}" + (f" (seq {seq})" if seq is not None else "")
        return Problem("malformed", f"malformed entry at {at}: {problem}", line_no, seq)
    unhashed = orjson.dumps({k: v for k, v in doc.items() if k != "hash"}, option=SORTED)
    hash_ok = hmac.compare_digest(entry_hash(unhashed, key), doc["hash"])
    return Line(doc, hash_ok, orjson.dumps(doc, option=SORTED) == raw)


def local_problem(line: Line, line_no: int) -> Problem | None:
    seq = line.doc["seq"]
    if not line.hash_ok:
        return Problem("modified", f"hash mismatch at line {line_no} (seq {seq}): entry modified",
                       line_no, seq)
    if not line.canonical:
        return Problem("not_canonical", f"line {line_no} (seq {seq}) is not in canonical form: "
                       "entry rewritten", line_no, seq)
    return None


# --------------------------------------------------------------------------
# writing


class Columns:
    """What the checks across lines need per entry, packed: about 115 bytes an entry."""

    __slots__ = ("blob", "flags", "line", "seq")

    def __init__(self) -> None:
        self.line = array("q")
        self.seq = array("q")
        self.flags = bytearray()  # 1: hash ok, 2: canonical
        self.blob = bytearray()  # per entry: digest of its line, prev, hash (32 bytes each)

    def add(self, line_no: int, raw: bytes, line: Line) -> None:
        self.line.append(line_no)
        self.seq.append(line.doc["seq"])
        self.flags.append(line.hash_ok | line.canonical << 1)
        self.blob += hashlib.sha256(raw).digest()
        self.blob += bytes.fromhex(line.doc["prev"]) + bytes.fromhex(line.doc["hash"])

    def __len__(self) -> int:
        return len(self.seq)

    def sound(self, i: int) -> bool:
        return self.flags[i] == 3

    def digest(self, i: int) -> bytes:
        return bytes(self.blob[96 * i:96 * i + 32])

    def prev(self, i: int) -> bytes:
        return bytes(self.blob[96 * i + 32:96 * i + 64])

    def hash(self, i: int) -> str:
        return self.blob[96 * i + 64:96 * i + 96].hex()


def check_chain(cols: Columns, problems: list[Problem], unreadable: list[int],
                heads: list[tuple[int, Anchor]], anchors: Iterable[Anchor]) -> VerifyReport:
    """The checks across lines, on the entries a reader collected: gaps, repeats,
    order, links, head entries and published ``anchors``."""
    n = len(cols)
    if n >= 2 and not any(f & 1 for f in cols.flags):
        problems = [p for p in problems if p.code != "modified"]
        problems.insert(0, Problem("wrong_key", f"hash mismatch on all {n} entries: wrong key, "
                                   "or keyed and unkeyed mixed up, or every entry modified"))
    chosen, seqs = _pick_per_seq(cols, problems)
    # An entry whose hash fails may claim any seq: it may be the missing one.
    unreadable += (cols.line[i] for i in range(n) if not cols.flags[i] & 1)
    unreadable.sort()
    _check_gaps_and_links(cols, chosen, seqs, unreadable, problems)
    _check_order(cols, chosen, problems)
    _check_claims(cols, chosen, seqs, heads, anchors, problems)
    problems.sort(key=lambda p: p.line if p.line is not None else _MAX_SEQ)
    head = None
    if chosen:
        last = chosen[-1]
        head = (cols.seq[last], cols.hash(last))
    return VerifyReport(n, head, problems)


def _pick_per_seq(cols: Columns, problems: list[Problem]) -> tuple[list[int], array[int]]:
    """One entry per seq among those whose hash holds, in seq order.

    Of several with one seq, the one the next seq's ``prev`` names is the
    chain's, then a canonical one, then the first; the others are reported
    as copies or insertions, and so are entries whose hash fails on a seq
    that a good entry holds.
    """
    n = len(cols)
    order = sorted((i for i in range(n) if cols.flags[i] & 1), key=cols.seq.__getitem__)
    chosen: list[int] = []
    seqs: array[int] = array("q")
    i = 0
    while i < len(order):
        s = cols.seq[order[i]]
        j = i
        while j < len(order) and cols.seq[order[j]] == s:
            j += 1
        members = order[i:j]
        pick = members[0]
        if len(members) > 1:
            k = j
            nexts = set()
            while k < len(order) and cols.seq[order[k]] == s + 1:
                nexts.add(cols.prev(order[k]))
                k += 1
            linked = [m for m in members if cols.sound(m) and cols.digest(m) in nexts]
            sound = [m for m in members if cols.sound(m)]
            pick = (linked or sound or members)[0]
            for m in members:
                if m != pick:
                    problems.append(_repeat(cols, m, pick, bool(linked)))
        chosen.append(pick)
        seqs.append(s)
        i = j
    for r in range(n):
        if not cols.flags[r] & 1:
            g = bisect_left(seqs, cols.seq[r])
            if g < len(seqs) and seqs[g] == cols.seq[r]:
                s, at = cols.seq[r], cols.line[r]
                problems.append(Problem(
                    "inserted", f"duplicate seq {s} at line {at}: the entry that verifies is at "
                    f"line {cols.line[chosen[g]]}, so this one was inserted or modified", at, s))
    return chosen, seqs


def _repeat(cols: Columns, extra: int, kept: int, linked: bool) -> Problem:
    s, at, other = cols.seq[extra], cols.line[extra], cols.line[kept]
    if cols.digest(extra) == cols.digest(kept):
        return Problem("duplicate", f"duplicate seq {s} at line {at}: a copy of line {other}",
                       at, s)
    if linked:
        text = (f"duplicate seq {s} at line {at}: the chain runs through line {other}, "
                "so this entry was inserted")
    else:
        text = f"duplicate seq {s} at lines {other} and {at}: one of them was inserted"
    return Problem("inserted", text, at, s)


def _check_gaps_and_links(cols: Columns, chosen: list[int], seqs: array[int],
                          unreadable: list[int], problems: list[Problem]) -> None:
    before_seq, before = -1, -1
    for g, pick in enumerate(chosen):
        s, at = seqs[g], cols.line[pick]
        if s > before_seq + 1:
            gap = s - before_seq - 1
            lo, hi = sorted((cols.line[before] if before >= 0 else 0, at))
            # unreadable lines in between account for the missing seqs
            if bisect_left(unreadable, hi) - bisect_right(unreadable, lo) < gap:
                what = "entry deleted" if gap == 1 else f"{gap} entries deleted"
                start = f"jumps from {before_seq} to" if before >= 0 else "starts at"
                problems.append(Problem("deleted", f"seq {start} {s} at line {at}: {what}", at, s))
        elif cols.sound(pick):
            if before < 0:
                if cols.prev(pick) != bytes(32):
                    problems.append(Problem("chain", f"prev does not match at line {at} (seq 0): "
                                            "not the genesis value", at, s))
            elif cols.sound(before) and cols.prev(pick) != cols.digest(before):
                problems.append(Problem(
                    "chain", f"prev does not match at line {at} (seq {s}): line "
                    f"{cols.line[before]} (seq {s - 1}) was modified and its hash recomputed, "
                    "or replaced", at, s))
        before_seq, before = s, pick


def _check_order(cols: Columns, chosen: list[int], problems: list[Problem]) -> None:
    """Entries outside a longest run in seq order are the ones that were moved."""
    in_file = sorted(chosen)  # record numbers are file order
    tails: list[int] = []
    tail_at: list[int] = []
    parent = array("q", [-1]) * len(in_file)
    for pos, r in enumerate(in_file):
        k = bisect_left(tails, cols.seq[r])
        if k == len(tails):
            tails.append(cols.seq[r])
            tail_at.append(pos)
        else:
            tails[k], tail_at[k] = cols.seq[r], pos
        parent[pos] = tail_at[k - 1] if k else -1
    keep = bytearray(len(in_file))
    p = tail_at[-1] if tail_at else -1
    while p >= 0:
        keep[p] = 1
        p = parent[p]
    for pos, r in enumerate(in_file):
        if keep[pos]:
            continue
        where = [f"{side} seq {cols.seq[o]} (line {cols.line[o]})"
                 for side, q in (("after", pos - 1), ("before", pos + 1))
                 if 0 <= q < len(in_file) for o in (in_file[q],)]
        s, at = cols.seq[r], cols.line[r]
        problems.append(Problem("reordered", f"reordered: seq {s} at line {at} comes "
                                + " and ".join(where), at, s))


def _check_claims(cols: Columns, chosen: list[int], seqs: array[int],
                  heads: list[tuple[int, Anchor]], anchors: Iterable[Anchor],
                  problems: list[Problem]) -> None:
    def find(seq: int) -> int:
        g = bisect_left(seqs, seq)
        return chosen[g] if g < len(seqs) and seqs[g] == seq else -1

    for r, (seq, value) in heads:
        if not cols.sound(r):
            continue
        at, own = cols.line[r], cols.seq[r]
        named = find(seq) if seq < own else -1
        if named < 0:
            problems.append(Problem("head_mismatch", f"head entry at line {at} (seq {own}) names "
                                    f"seq {seq}, which is not an earlier entry in the file",
                                    at, own))
        elif cols.hash(named) != value:
            problems.append(Problem("head_mismatch", f"head entry at line {at} (seq {own}) names "
                                    f"seq {seq} with another hash than line "
                                    f"{cols.line[named]} has", at, own))
    for seq, value in anchors:
        r = find(seq)
        if r < 0:
            ends = (f"the file ends at seq {seqs[-1]}" if len(seqs) else "the file has no entries")
            problems.append(Problem("truncated", f"truncated: published head seq {seq} not in "
                                    f"file ({ends})", None, seq))
        elif cols.hash(r) != value:
            problems.append(Problem(
                "head_mismatch", f"head mismatch: published head seq {seq} has hash "
                f"{value[:16]}…, line {cols.line[r]} has {cols.hash(r)[:16]}…",
                cols.line[r], seq))
