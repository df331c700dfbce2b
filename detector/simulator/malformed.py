"""Broken records of the kinds real producers emit, to exercise the reject path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


def _drop(field: str) -> Callable[[Event], None]:
    def apply(ev: Event) -> None:
        del ev[field]
    return apply


def _naive_time(ev: Event) -> None:
    ev["timestamp"] = ev["timestamp"][:19]


def _epoch_time(ev: Event) -> None:
    ev["timestamp"] = 1_790_000_000 + len(ev["event_id"])


def _shouted_action(ev: Event) -> None:
    ev["action"] = ev["action"].upper()


def _empty_employee(ev: Event) -> None:
    ev["employee_id"] = ""


def _numeric_id(ev: Event) -> None:
    ev["event_id"] = int(ev["event_id"][3:12], 16)


def _negative_count(ev: Event) -> None:
    ev["record_count"] = -abs(int(ev["record_count"])) - 1


def _string_count(ev: Event) -> None:
    ev["record_count"] = str(ev["record_count"])


def _bad_latitude(ev: Event) -> None:
    ev["geo"]["lat"] = ev["geo"]["lat"] + (100.0 if ev["geo"]["lat"] >= 0 else -100.0)


def _bad_tier(ev: Event) -> None:
    tiers = ev["tiers"]
    key = next(iter(tiers))
    tiers["platinum"] = tiers.pop(key)


def _customers_object(ev: Event) -> None:
    ev["customers"] = ev["customers"][0]


def _customer_without_id(ev: Event) -> None:
    del ev["customers"][0]["id"]


_ALWAYS: tuple[tuple[str, Callable[[Event], None]], ...] = (
    ("missing_event_id", _drop("event_id")),
    ("missing_timestamp", _drop("timestamp")),
    ("timestamp_without_offset", _naive_time),
    ("timestamp_as_number", _epoch_time),
    ("unknown_action", _shouted_action),
    ("empty_employee_id", _empty_employee),
    ("missing_action", _drop("action")),
    ("event_id_not_a_string", _numeric_id),
)


def _applicable(ev: Event) -> list[tuple[str, Callable[[Event], None]]]:
    options = list(_ALWAYS)
    if "record_count" in ev:
        options += [("negative_record_count", _negative_count),
                    ("record_count_as_string", _string_count)]
    if "lat" in ev.get("geo", {}):
        options.append(("latitude_out_of_range", _bad_latitude))
    if ev.get("tiers"):
        options.append(("unknown_tier", _bad_tier))
    if ev.get("customers"):
        options += [("customers_not_a_list", _customers_object),
                    ("customer_without_id", _customer_without_id)]
    return options


def corrupt(event: Event, pick: int) -> tuple[Event, str]:
    """A damaged copy of ``event`` and the name of its defect; ``pick`` chooses which one."""
    options = _applicable(event)
    name, apply = options[pick % len(options)]
    damaged = copy.deepcopy(event)
    apply(damaged)
    return damaged, name
