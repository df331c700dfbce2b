"""JSON Lines input: numbered raw lines, read in large binary chunks.

Lines stay bytes because the parser (orjson) takes bytes directly; decoding
them to str first would cost a copy per event.  Line numbers are physical
(blank lines count) so a reject can point at the line in the file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import IO

CHUNK_SIZE = 1 << 20
# A line longer than this is cut: what is yielded is already too large for any
# parser limit, and holding the rest would let one bad line exhaust memory.
MAX_LINE = 1 << 26


def iter_lines(
    path: str, chunk_size: int = CHUNK_SIZE, max_line: int = MAX_LINE
) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) for each non-blank line of ``path``.

    ``-`` reads standard input.  CRLF endings and a last line without a
    newline are both fine.
    """
    if path == "-":
        yield from iter_stream(sys.stdin.buffer, chunk_size, max_line)
        return
    with open(path, "rb") as fh:
        yield from iter_stream(fh, chunk_size, max_line)


def iter_stream(
    stream: IO[bytes], chunk_size: int = CHUNK_SIZE, max_line: int = MAX_LINE
) -> Iterator[tuple[int, bytes]]:
    """The same as :func:`iter_lines`, over an open binary stream."""
    read = stream.read
    line_no = 0
    tail = b""
    skipping = False  # inside an over-long line whose start was already yielded
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        if tail:
            chunk = tail + chunk
        lines = chunk.split(b"\n")
        tail = lines.pop()
        for line in lines:
            line_no += 1
            if skipping:
                skipping = False
                continue
            if line[-1:] == b"\r":
                line = line[:-1]
            if line and not line.isspace():
                yield line_no, line
        if len(tail) > max_line:
            if not skipping:
                yield line_no + 1, tail[: max_line + 1]
                skipping = True
            tail = b""
    if tail and not skipping:
        if tail[-1:] == b"\r":
            tail = tail[:-1]
        if tail and not tail.isspace():
            yield line_no + 1, tail
