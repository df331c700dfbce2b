"""The audit trail: every kind of tampering is found and named by line and seq.

The log is built from the actions a real replay decides (the ``small_world``
fixture) and analysts' commands about them, then damaged the ways an insider
with write access to the file could damage it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.cli import main
from detector.audit import GENESIS, AuditError, AuditLog, Problem, load_anchors, verify
from detector.replay import load_directory, replay
from detector.settings import load_settings
from detector.wire.commands import parse_command
from detector.wire.jsonl import iter_lines

KEY = b"audit-test-key-0123456789"
SORTED = orjson.OPT_SORT_KEYS
Trail = list[tuple[str, dict[str, Any], str]]


@pytest.fixture(scope="module")
def trail(small_world: Path) -> Trail:
    """Actions from a replay (alert threshold lowered for more of them) and a command for each."""
    settings = load_settings(None, {"INSIDER_DECISIONS__ALERT": "15"})
    directory, _, _ = load_directory(iter_lines(str(small_world / "employees.jsonl")))
    out: list[bytes] = []
    replay(settings, iter_lines(str(small_world / "events.jsonl")), directory, out.append,
           clock=lambda: 0.0)
    entries: Trail = []
    for line in out:
        action = orjson.loads(line)
        entries.append(("action", action, action["event_time"]))
        if action["type"] == "release":
            continue
        command = {"command": "release" if action["type"] == "freeze" else "false_positive",
                   "employee_id": action["employee_id"], "action_id": action["action_id"],
                   "analyst": "sam", "reason": "checked with the manager"}
        parse_command(orjson.dumps(command))  # a command the service would accept
        entries.append(("command", command, action["event_time"]))
    return entries


def write_log(path: Path, trail: Trail, key: bytes | None = None) -> tuple[int, str]:
    """The trail with a head entry after every fifth entry; returns the head."""
    with AuditLog.open(path, key) as log:
        for i, (kind, body, at) in enumerate(trail):
            log.append(kind, body, at)
            if i % 5 == 4:
                log.mark_head(at)
        return log.head()


@pytest.fixture
def log(tmp_path: Path, trail: Trail) -> Path:
    path = tmp_path / "audit.jsonl"
    write_log(path, trail)
    return path


@pytest.fixture
def keyed(tmp_path: Path, trail: Trail) -> Path:
    path = tmp_path / "audit-keyed.jsonl"
    write_log(path, trail, KEY)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def problems(path: Path, key: bytes | None = None,
             anchors: list[tuple[int, str]] | None = None) -> list[Problem]:
    return verify(path, key, anchors).problems


def summary(found: list[Problem]) -> list[tuple[str, int | None, int | None]]:
    return [(p.code, p.line, p.seq) for p in found]


def flip_body_byte(line: bytes) -> bytes:
    """One letter inside the body changed to another: still valid, still canonical JSON."""
    i = line.index(b'"body":{') + 10
    while not 0x61 <= line[i] <= 0x7A:
        i += 1
    return line[:i] + (b"x" if line[i:i + 1] != b"x" else b"y") + line[i + 1:]


def seal(doc: dict[str, Any], prev_line: bytes | None, key: bytes | None = None) -> bytes:
    """An entry hashed the way the writer hashes, as someone who can edit the file would."""
    doc = {k: v for k, v in doc.items() if k != "hash"}
    if prev_line is not None:
        doc["prev"] = hashlib.sha256(prev_line).hexdigest()
    unhashed = orjson.dumps(doc, option=SORTED)
    doc["hash"] = (hmac.new(key, unhashed, hashlib.sha256).hexdigest() if key
                   else hashlib.sha256(unhashed).hexdigest())
    return orjson.dumps(doc, option=SORTED)


def rechain(lines: list[bytes], start: int, renumber: int = 0) -> list[bytes]:
    """Re-hash every entry from ``start`` on (seq shifted by ``renumber``), unkeyed."""
    out = lines[:start]
    for line in lines[start:]:
        doc = orjson.loads(line)
        doc["seq"] += renumber
        if doc["kind"] == "head":  # keep head entries naming the entry before them
            before = orjson.loads(out[-1])
            doc["body"] = {"seq": before["seq"], "hash": before["hash"]}
        out.append(seal(doc, out[-1] if out else None))
    return out


# ---------------------------------------------------------------------------
# a clean log


def test_clean_log_verifies(log: Path, trail: Trail, small_world: Path) -> None:
    lines = lines_of(log)
    assert len(lines) >= 40
    report = verify(log)
    assert report.ok and report.entries == len(lines)
    docs = [orjson.loads(line) for line in lines]
    assert [d["seq"] for d in docs] == list(range(len(lines)))
    assert docs[0]["prev"] == GENESIS
    for before, doc in zip(lines, docs[1:], strict=False):
        assert doc["prev"] == hashlib.sha256(before).hexdigest()
    assert all(orjson.dumps(d, option=SORTED) == line for d, line in zip(docs, lines, strict=True))
    assert {d["kind"] for d in docs} == {"action", "command", "head"}
    assert report.head == (docs[-1]["seq"], docs[-1]["hash"])
    # no customer id of the replayed world reaches the trail
    events = (small_world / "events.jsonl").read_bytes()
    customer_ids = set(re.findall(rb'"id":"([^"]+)"', events))
    assert customer_ids
    data = log.read_bytes()
    assert not [c for c in customer_ids if b'"' + c + b'"' in data]


def test_keyed_log_needs_its_key(keyed: Path) -> None:
    assert verify(keyed, KEY).ok
    for wrong in (None, b"another key"):
        found = problems(keyed, wrong)
        assert summary(found) == [("wrong_key", None, None)]
        assert "hash mismatch on all" in found[0].text


def test_head_entries_name_the_entry_before_them(log: Path) -> None:
    docs = [orjson.loads(line) for line in lines_of(log)]
    heads = [d for d in docs if d["kind"] == "head"]
    assert heads
    for h in heads:
        named = docs[h["body"]["seq"]]
        assert named["seq"] == h["seq"] - 1 and named["hash"] == h["body"]["hash"]


# ---------------------------------------------------------------------------
# tampering, one kind at a time


@pytest.mark.parametrize("key", [None, KEY])
def test_modified_byte_is_named(tmp_path: Path, trail: Trail, key: bytes | None) -> None:
    path = tmp_path / "log.jsonl"
    write_log(path, trail, key)
    lines = lines_of(path)
    lines[6] = flip_body_byte(lines[6])
    found = problems(write_lines(path, lines), key)
    assert summary(found) == [("modified", 7, 6)]
    assert found[0].text == "hash mismatch at line 7 (seq 6): entry modified"


def test_modified_and_rehashed_breaks_the_link_after_it(log: Path) -> None:
    """Unkeyed, the editor can fix the entry's own hash, but the next entry's prev still differs."""
    lines = lines_of(log)
    lines[6] = seal(orjson.loads(flip_body_byte(lines[6])), None)
    found = problems(write_lines(log, lines))
    assert summary(found) == [("chain", 8, 7)]
    assert found[0].text.startswith("prev does not match at line 8 (seq 7): line 7 (seq 6)")


def test_modified_in_keyed_log_cannot_be_rehashed(keyed: Path) -> None:
    lines = lines_of(keyed)
    lines[6] = seal(orjson.loads(flip_body_byte(lines[6])), None)  # no key: plain SHA-256
    assert summary(problems(write_lines(keyed, lines), KEY)) == [("modified", 7, 6)]


def test_rewritten_chain_needs_anchors_when_unkeyed(log: Path) -> None:
    """What the unkeyed mode cannot see: a rewrite of everything after the change."""
    published = verify(log).head
    assert published is not None
    lines = lines_of(log)
    lines[6] = flip_body_byte(lines[6])
    path = write_lines(log, rechain(lines, 6))
    assert verify(path).ok
    found = problems(path, anchors=[published])
    assert summary(found) == [("head_mismatch", len(lines), published[0])]
    assert found[0].text.startswith(f"head mismatch: published head seq {published[0]} has hash")


@pytest.mark.parametrize("key", [None, KEY])
def test_deleted_entry_is_named(tmp_path: Path, trail: Trail, key: bytes | None) -> None:
    path = tmp_path / "log.jsonl"
    write_log(path, trail, key)
    lines = lines_of(path)
    del lines[5]
    found = problems(write_lines(path, lines), key)
    assert summary(found) == [("deleted", 6, 6)]
    assert found[0].text == "seq jumps from 4 to 6 at line 6: entry deleted"


def test_deleted_first_and_several(log: Path) -> None:
    lines = lines_of(log)
    found = problems(write_lines(log, lines[1:]))
    assert [p.text for p in found] == ["seq starts at 1 at line 1: entry deleted"]
    found = problems(write_lines(log, lines[:10] + lines[13:]))
    assert [p.text for p in found] == ["seq jumps from 9 to 13 at line 11: 3 entries deleted"]


def forged_entry(lines: list[bytes], seq: int) -> dict[str, Any]:
    template = orjson.loads(lines[seq])
    return {"seq": seq, "at": template["at"], "kind": "command",
            "body": {"command": "release", "employee_id": "E00001", "analyst": "mallory",
                     "reason": "approved"}, "prev": GENESIS}


def test_inserted_entry_unkeyed(log: Path) -> None:
    """A forged entry with a correct hash and link still leaves two entries claiming seq 5."""
    lines = lines_of(log)
    forged = seal(forged_entry(lines, 5), lines[4])
    found = problems(write_lines(log, [*lines[:5], forged, *lines[5:]]))
    assert summary(found) == [("inserted", 6, 5)]
    assert found[0].text == ("duplicate seq 5 at line 6: the chain runs through line 7, "
                             "so this entry was inserted")


def test_inserted_entry_unkeyed_with_renumbering_needs_anchors(log: Path) -> None:
    published = verify(log).head
    assert published is not None
    lines = lines_of(log)
    forged = seal(forged_entry(lines, 5), lines[4])
    path = write_lines(log, rechain([*lines[:5], forged, *lines[5:]], 6, renumber=1))
    assert verify(path).ok  # the whole chain after it was recomputed: only anchors show it
    assert summary(problems(path, anchors=[published])) == [
        ("head_mismatch", published[0] + 1, published[0])]


def test_inserted_entry_keyed(keyed: Path) -> None:
    lines = lines_of(keyed)
    forged = seal(forged_entry(lines, 5), lines[4], key=b"a guess")
    found = problems(write_lines(keyed, [*lines[:5], forged, *lines[5:]]), KEY)
    assert summary(found) == [("modified", 6, 5), ("inserted", 6, 5)]
    renumbered = rechain([forged, *lines[5:]], 1, renumber=1)
    found = problems(write_lines(keyed, [*lines[:5], *renumbered]), KEY)
    assert found[0] == Problem("modified", "hash mismatch at line 6 (seq 5): entry modified", 6, 5)
    assert {p.code for p in found} == {"modified"}
    assert [p.line for p in found] == list(range(6, len(lines) + 2))


@pytest.mark.parametrize(("i", "j"), [(9, 10), (9, 19)])
def test_swapped_entries_are_reordered(log: Path, i: int, j: int) -> None:
    lines = lines_of(log)
    lines[i], lines[j] = lines[j], lines[i]
    found = problems(write_lines(log, lines))
    assert {p.code for p in found} == {"reordered"}
    assert {p.line for p in found} <= {i + 1, j + 1}
    if j == i + 1:
        assert [p.text for p in found] == [
            "reordered: seq 10 at line 10 comes after seq 8 (line 9) and before seq 9 (line 11)"]
    else:
        assert summary(found) == [("reordered", i + 1, j), ("reordered", j + 1, i)]


def test_truncated_end_is_caught_only_with_anchors(log: Path) -> None:
    published = verify(log).head
    assert published is not None
    lines = lines_of(log)
    path = write_lines(log, lines[:-5])
    assert verify(path).ok
    earlier = orjson.loads(lines[10])
    assert verify(path, anchors=[(earlier["seq"], earlier["hash"])]).ok
    found = problems(path, anchors=[(earlier["seq"], earlier["hash"]), published])
    assert summary(found) == [("truncated", None, published[0])]
    assert found[0].text == (f"truncated: published head seq {published[0]} not in file "
                             f"(the file ends at seq {published[0] - 5})")


def test_duplicated_entry_is_named(log: Path) -> None:
    lines = lines_of(log)
    found = problems(write_lines(log, [*lines[:11], lines[10], *lines[11:]]))
    assert [p.text for p in found] == ["duplicate seq 10 at line 12: a copy of line 11"]
    found = problems(write_lines(log, [*lines, lines[3]]))
    assert summary(found) == [("duplicate", len(lines) + 1, 3)]


def test_invalid_json_and_malformed_lines(log: Path) -> None:
    lines = lines_of(log)
    bad = list(lines)
    bad[19] = lines[19][:40] + b"\xff" + lines[19][41:]
    bad[24] = b'{"seq": 24}'
    bad[29] = b""
    found = problems(write_lines(log, bad))
    assert summary(found) == [("invalid_json", 20, None), ("malformed", 25, 24),
                              ("invalid_json", 30, None)]
    assert found[0].text.startswith("invalid JSON at line 20")
    assert found[1].text == "malformed entry at line 25 (seq 24): missing field at"


def test_rewritten_but_equal_content_is_not_canonical(log: Path) -> None:
    lines = lines_of(log)
    lines[3] = orjson.dumps(orjson.loads(lines[3]), option=orjson.OPT_INDENT_2).replace(b"\n", b"")
    assert summary(problems(write_lines(log, lines))) == [("not_canonical", 4, 3)]


def test_head_entry_that_names_another_hash(log: Path) -> None:
    lines = lines_of(log)
    k = next(i for i, line in enumerate(lines) if b'"kind":"head"' in line)
    doc = orjson.loads(lines[k])
    doc["body"]["hash"] = "f" * 64
    lines = rechain([*lines[:k], seal(doc, lines[k - 1]), *lines[k + 1:]], k + 1)
    found = problems(write_lines(log, lines))
    assert summary(found) == [("head_mismatch", k + 1, k)]


# ---------------------------------------------------------------------------
# properties over small logs


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory, trail: Trail) -> bytes:
    path = tmp_path_factory.mktemp("small") / "audit.jsonl"
    with AuditLog.open(path) as out:
        for kind, body, at in trail[:16]:
            out.append(kind, body, at)
    return path.read_bytes()


PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(data=st.data())
def test_any_changed_byte_is_named(small_log: bytes, tmp_path: Path, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(small_log) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != small_log[pos]))
    damaged = small_log[:pos] + bytes([byte]) + small_log[pos + 1:]
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(damaged)
    found = problems(path)
    line = small_log.count(b"\n", 0, pos) + 1  # the line holding the byte (or ending with it)
    assert found
    assert min(p.line for p in found if p.line is not None) == line


@PROPERTY
@given(data=st.data())
def test_any_deleted_or_swapped_line_is_named(small_log: bytes, tmp_path: Path,
                                              data: st.DataObject) -> None:
    lines = small_log.split(b"\n")[:-1]
    i = data.draw(st.integers(0, len(lines) - 2))
    path = tmp_path / "damaged.jsonl"
    found = problems(write_lines(path, lines[:i] + lines[i + 1:]))
    assert summary(found) == [("deleted", i + 1, i + 1)]
    j = data.draw(st.integers(i + 1, len(lines) - 1))
    swapped = list(lines)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    found = problems(write_lines(path, swapped))
    assert found and {p.code for p in found} == {"reordered"}
    assert all(i + 1 <= (p.line or 0) <= j + 1 for p in found)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400) | st.lists(st.binary(max_size=60)).map(b"\n".join))
def test_verify_never_fails_on_garbage(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(raw)
    report = verify(path, anchors=[(0, GENESIS)])
    assert all(p.code and p.text for p in report.problems)


# ---------------------------------------------------------------------------
# opening, resuming, torn writes


@pytest.mark.parametrize("key", [None, KEY])
def test_resume_appends_to_the_chain(tmp_path: Path, trail: Trail, key: bytes | None) -> None:
    path = tmp_path / "log.jsonl"
    seq, value = write_log(path, trail[:10], key)
    with AuditLog.open(path, key) as log:
        assert log.head() == (seq, value)
        entry = log.append("command", trail[1][1], datetime(2026, 10, 9, 6, tzinfo=UTC))
        assert entry["seq"] == seq + 1 and entry["at"] == "2026-10-09T06:00:00+00:00"
        log.append("action", trail[0][1], 1_790_000_000.5)
    report = verify(path, key)
    assert report.ok and report.entries == seq + 3
    assert orjson.loads(lines_of(path)[-1])["at"] == "2026-09-21T14:13:20.500000Z"


def test_resume_refuses_a_bad_tail(tmp_path: Path, trail: Trail) -> None:
    path = tmp_path / "log.jsonl"
    write_log(path, trail[:6], KEY)
    for key in (None, b"wrong"):
        with pytest.raises(AuditError, match=r"last entry \(line 7\) does not verify"):
            AuditLog.open(path, key)
    lines = lines_of(path)
    write_lines(path, [*lines[:-2], lines[-1]])  # the last no longer follows the one before
    with pytest.raises(AuditError, match="does not chain"):
        AuditLog.open(path, KEY)
    write_lines(path, lines[-1:])
    with pytest.raises(AuditError, match="genesis"):
        AuditLog.open(path, KEY)


def test_torn_last_line_is_refused_then_repaired_explicitly(log: Path) -> None:
    lines = lines_of(log)
    data = log.read_bytes()
    cut = len(lines[-1]) // 2
    log.write_bytes(data[:-cut - 1])  # a crash in the middle of the last write
    found = problems(log)
    assert summary(found) == [("torn", len(lines), None)]
    assert found[0].text == (f"truncated final line at line {len(lines)}: "
                             "partial write (no newline at the end)")
    with pytest.raises(AuditError, match=f"line {len(lines)} is a partial write"):
        AuditLog.open(log)
    assert log.read_bytes() == data[:-cut - 1]  # refusing changes nothing
    with AuditLog.open(log, repair=True) as out:
        assert out.head()[0] == len(lines) - 2
        out.append("command", {"command": "release", "employee_id": "E1"}, "2026-10-10T00:00:00Z")
    assert verify(log).ok
    assert (log.parent / (log.name + ".torn")).read_bytes() == lines[-1][:-cut] + b"\n"


def test_one_writer_at_a_time(log: Path) -> None:
    with AuditLog.open(log), pytest.raises(AuditError, match="another process"):
        AuditLog.open(log)
    with AuditLog.open(log) as again:
        assert again.head()[0] >= 0


def test_new_log_and_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    with AuditLog.open(path) as log:
        assert log.head() == (-1, GENESIS)
        with pytest.raises(ValueError):
            log.mark_head("2026-10-10T00:00:00Z")
        with pytest.raises(ValueError):
            log.append("note", {}, "2026-10-10T00:00:00Z")
        with pytest.raises(ValueError):
            log.append("action", {}, "yesterday")
        with pytest.raises(ValueError):
            log.append("action", {}, datetime(2026, 10, 10))  # no zone
        with pytest.raises(ValueError):
            log.append("head", {"seq": 0}, "2026-10-10T00:00:00Z")
        with pytest.raises(TypeError):
            log.append("action", {1: "not JSON"}, "2026-10-10T00:00:00Z")
        assert log.head() == (-1, GENESIS)
    assert path.read_bytes() == b""
    assert verify(path).ok and verify(path).head is None
    with pytest.raises(ValueError, match="empty"):
        AuditLog.open(path, b"")
    with pytest.raises(ValueError, match="empty"):
        verify(path, b"")


# ---------------------------------------------------------------------------
# the command line


def test_cli_ok(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq, value = verify(log).head or (0, "")
    assert main(["audit", "verify", str(log)]) == 0
    assert capsys.readouterr().out == f"ok: {seq + 1} entries, head seq {seq} hash {value}\n"


def test_cli_problems(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = lines_of(log)
    lines[6] = flip_body_byte(lines[6])
    del lines[20]
    write_lines(log, lines)
    assert main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["hash mismatch at line 7 (seq 6): entry modified",
                   "seq jumps from 19 to 21 at line 21: entry deleted",
                   f"FAILED: 2 problems in {log} ({len(lines)} entries read)"]


def test_cli_key_and_anchors(tmp_path: Path, trail: Trail,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.jsonl"
    seq, value = write_log(path, trail, KEY)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_bytes(orjson.dumps({"seq": seq, "hash": value, "at": "2026-10-10T00:00:00Z"})
                        + b"\n\n")
    assert load_anchors(anchors) == [(seq, value)]
    args = ["audit", "verify", str(path), "--key-file", str(key_file), "--anchors", str(anchors)]
    assert main(args) == 0
    assert main(["audit", "verify", str(path)]) == 1
    write_lines(path, lines_of(path)[:-1])
    assert main(args) == 1
    assert f"truncated: published head seq {seq} not in file" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing log", "directory", "missing key", "empty key",
                                  "bad anchors", "missing anchors"])
def test_cli_errors(log: Path, tmp_path: Path, case: str,
                    capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b" \n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"seq": 1, "hash": "abc"}\n')
    args = {
        "missing log": [str(tmp_path / "nope.jsonl")],
        "directory": [str(tmp_path)],
        "missing key": [str(log), "--key-file", str(tmp_path / "nope")],
        "empty key": [str(log), "--key-file", str(empty)],
        "bad anchors": [str(log), "--anchors", str(bad)],
        "missing anchors": [str(log), "--anchors", str(tmp_path / "nope")],
    }[case]
    assert main(["audit", "verify", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
