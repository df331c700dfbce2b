"""Analysts' commands: every valid one parses, every invalid one names its field."""

from __future__ import annotations

import orjson
import pytest

from detector.errors import InvalidRecord
from detector.wire.commands import FALSE_POSITIVE, RELEASE, parse_command


def test_release_and_false_positive_parse() -> None:
    r = parse_command(b'{"command": "release", "employee_id": "E1", "reason": "HR ok",'
                      b' "analyst": "sam", "issued_at": "2026-11-23T10:00:00+01:00"}')
    assert (r.command, r.employee_id, r.reason, r.analyst) == (RELEASE, "E1", "HR ok", "sam")
    assert r.issued_at == 1795424400.0
    fp = parse_command({"command": "false_positive", "employee_id": "E1",
                        "action_id": "alert-abc"})
    assert (fp.command, fp.action_id) == (FALSE_POSITIVE, "alert-abc")


@pytest.mark.parametrize(("doc", "field", "code"), [
    (b"not json", "$", "not_json"),
    (b"[]", "$", "not_object"),
    ({"employee_id": "E1"}, "command", "missing_field"),
    ({"command": "delete", "employee_id": "E1"}, "command", "invalid_value"),
    ({"command": "release"}, "employee_id", "missing_field"),
    ({"command": "release", "employee_id": 7}, "employee_id", "wrong_type"),
    ({"command": "release", "employee_id": "  "}, "employee_id", "invalid_value"),
    ({"command": "false_positive", "employee_id": "E1"}, "action_id", "missing_field"),
    ({"command": "release", "employee_id": "E1", "issued_at": "yesterday"}, "issued_at",
     "invalid_value"),
    ({"command": "release", "employee_id": "E1", "reason": "x" * 501}, "reason",
     "invalid_value"),
    ({"command": "release", "employee_id": "E1", "extra": 1}, "extra", "unknown_field"),
])
def test_invalid_commands_name_the_field(doc: object, field: str, code: str) -> None:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    with pytest.raises(InvalidRecord) as info:
        parse_command(raw)
    assert (info.value.field, info.value.code) == (field, code)


def test_oversized_command_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_command(b'{"command": "release", "employee_id": "' + b"E" * 10000 + b'"}')
    assert info.value.code == "too_large"
