"""The service's consume path fed arbitrary bytes: every record that the parser
refuses becomes a counted dead letter, the rest are scored, and the loop never stops."""

from __future__ import annotations

import random
from pathlib import Path

from test_service import _finished, _prepared, running

from consumers.broker import EmbeddedBroker
from consumers.records import DLQ_REASON
from detector.errors import InvalidRecord
from detector.wire.events import parse_event
from tests.kafka_kit import produce, read_topic


def _garbage(rng: random.Random, valid: list[bytes], n: int) -> list[bytes]:
    """Random bytes, and valid events damaged in the ways producers damage them."""
    out: list[bytes] = []
    for _ in range(n):
        base = rng.choice(valid)
        kind = rng.randrange(9)
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 3000)))
        elif kind == 1:  # bit flips
            b = bytearray(base)
            for _ in range(rng.randrange(1, 6)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            out.append(bytes(b))
        elif kind == 2:  # cut short
            out.append(base[: rng.randrange(len(base))])
        elif kind == 3:  # deep nesting
            depth = rng.choice((50, 500, 20_000))
            out.append(base[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}")
        elif kind == 4:  # huge and non-finite numbers
            lit = rng.choice((b"1e400", b"NaN", b"Infinity", b"-0", b"9" * 400))
            out.append(base[:-1] + b',"record_count":' + lit + b"}")
        elif kind == 5:  # invalid UTF-8 inside a string
            out.append(base.replace(b'"employee_id":"', b'"employee_id":"\xc3\x28', 1))
        elif kind == 6:  # a duplicated key
            out.append(base[:-1] + b',"action":"export","action":"teleport"}')
        elif kind == 7:  # a very long string
            out.append(base.replace(b'"event_id":"', b'"event_id":"' + b"e" * 100_000, 1))
        else:  # timestamps far away
            stamp = rng.choice((b"0001-01-01T00:00:00Z", b"1900-02-29T00:00:00Z",
                                b"2026-13-01T00:00:00Z", b"2026-10-05T24:00:00Z"))
            doc = base.split(b'"timestamp":"', 1)
            out.append(doc[0] + b'"timestamp":"' + stamp + doc[1][doc[1].index(b'"'):]
                       if len(doc) == 2 else base)
    return out


def test_arbitrary_bytes_become_dead_letters_and_the_stream_goes_on(
    broker: EmbeddedBroker, small_world: Path
) -> None:
    s, events = _prepared(broker, small_world, 2)
    rng = random.Random(1123)
    valid = events[:3000]
    junk = _garbage(rng, valid, 600)
    stream = valid[:]
    for j in junk:
        stream.insert(rng.randrange(len(stream) + 1), j)
    bad: list[bytes] = []
    for raw in stream:
        try:
            parse_event(raw)
        except InvalidRecord:
            bad.append(raw)
    refused = len(bad)
    assert refused >= 400, "most of the garbage should be invalid"
    keys = [(b"E" + str(rng.randrange(50)).encode(), raw) for raw in stream]
    ends = produce(broker.bootstrap, s.topics.events, keys)
    with running(s) as svc:
        _finished(svc, s, ends)
        rejects = sum(svc.stats.rejects.values())
        assert svc.healthy()
    assert rejects == refused
    dlq = read_topic(broker.bootstrap, s.topics.dead_letter)
    assert len(dlq) == refused
    assert sorted(m.value for m in dlq) == sorted(bad)  # the original bytes, each once
    assert all(dict(m.headers)[DLQ_REASON] for m in dlq)
