"""JSON Lines reading: line numbers, blank lines, CRLF, chunk boundaries, stdin."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.wire.jsonl import iter_lines, iter_stream


def reference(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    for i, line in enumerate(data.split(b"\n"), 1):
        line = line.removesuffix(b"\r")
        if line.strip():
            out.append((i, line))
    return out


def test_file_with_crlf_blank_lines_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a":1}\r\n\r\n{"b":2}\n   \n\n{"c":3}')
    assert list(iter_lines(str(path))) == [(1, b'{"a":1}'), (3, b'{"b":2}'), (6, b'{"c":3}')]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(iter_lines(str(path))) == []


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_lines(str(tmp_path / "nope.jsonl")))


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"x\n\ny\r\n")))
    assert list(iter_lines("-")) == [(1, b"x"), (3, b"y")]


lines = st.lists(
    st.binary(max_size=12).map(lambda b: b.replace(b"\n", b""))
    | st.sampled_from([b"", b" ", b"\r"]),
    max_size=30,
)


@given(lines=lines, crlf=st.booleans(), final_newline=st.booleans(),
       chunk=st.integers(1, 64))
def test_any_chunk_size_gives_the_same_lines(
    lines: list[bytes], crlf: bool, final_newline: bool, chunk: int
) -> None:
    data = (b"\r\n" if crlf else b"\n").join(lines) + (b"\n" if final_newline and lines else b"")
    got = list(iter_stream(io.BytesIO(data), chunk_size=chunk))
    assert got == reference(data)


def test_large_file_in_default_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    body = b"".join(b'{"n":%d}\n' % i for i in range(200_000))
    path.write_bytes(body)
    got = list(iter_lines(str(path)))
    assert len(got) == 200_000
    assert got[0] == (1, b'{"n":0}') and got[-1] == (200_000, b'{"n":199999}')


def test_over_long_line_is_cut_and_the_rest_skipped() -> None:
    data = b"a\n" + b"x" * 100 + b"\nb\n" + b"y" * 100
    got = list(iter_stream(io.BytesIO(data), chunk_size=7, max_line=20))
    assert got == [(1, b"a"), (2, b"x" * 21), (3, b"b"), (4, b"y" * 21)]
