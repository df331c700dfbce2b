"""The C-checked path of ``parse_event`` against its Python-checked path.

``parse_event`` takes bytes through the msgspec Structs of
``detector.wire.event_struct`` and a dict through the field-by-field checks;
both must give the same event, and the Structs must hold the same sets and
limits as the checks, or valid events would quietly take the slow path.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from hypothesis import HealthCheck, given, settings

from detector.wire import event_struct
from detector.wire.event_struct import EventDoc, decode_event
from detector.wire.events import ACTIONS, CHANNELS, ID_MAX_LENGTH, MAX_COUNT, TIERS, parse_event
from tests.contract import contract_file
from tests.detector.test_events import valid_events

EXAMPLES = [line for line in contract_file("examples.jsonl").read_bytes().splitlines()
            if line.strip()]


def _metas(alias: Any) -> list[Any]:
    return list(typing.get_args(alias)[1:])


def test_the_structs_hold_the_contracts_sets_and_limits() -> None:
    assert set(typing.get_args(event_struct.Action)) == ACTIONS
    assert typing.get_args(event_struct.Channel) == CHANNELS
    assert typing.get_args(event_struct.Tier) == TIERS
    (count,) = _metas(event_struct.Count)
    assert (count.ge, count.le) == (0, MAX_COUNT)
    (ident,) = _metas(event_struct.Id)
    assert (ident.min_length, ident.max_length) == (1, ID_MAX_LENGTH)


def test_every_contract_example_is_a_plain_document() -> None:
    for raw in EXAMPLES:
        assert isinstance(decode_event(raw), EventDoc), raw


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=valid_events())
def test_bytes_and_dict_give_the_same_event(doc: dict[str, Any]) -> None:
    from_bytes = parse_event(json.dumps(doc).encode())
    from_dict = parse_event(doc)
    assert dataclasses.asdict(from_bytes) == dataclasses.asdict(from_dict)
    assert [type(v) for v in dataclasses.astuple(from_bytes)] == [
        type(v) for v in dataclasses.astuple(from_dict)]
