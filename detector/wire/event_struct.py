"""The access-event contract as msgspec Structs: the whole schema checked in C.

A document that decodes here is valid as it stands: every field of the right
type and range, no nulls, no unknown fields (whose nesting the checked path
must measure), counts already within ``MAX_COUNT``.  Anything else, even a
valid document with an unusual form (an integer sent as ``5.0``, a count to
clamp, an extra field), fails here and goes to ``parse_event``'s checked path,
which alone words the errors, so every message stays what that path says.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

# Spelled out for the type checker; a test holds them equal to the sets in events.
Action = Literal["login", "logout", "view", "search", "report_run", "export", "download",
                 "print", "bulk_api", "create", "update", "delete", "share"]
Channel = Literal["web", "mobile", "api", "integration"]
Tier = Literal["high", "medium", "low"]
Count = Annotated[int, Meta(ge=0, le=10**9)]  # events.MAX_COUNT: larger ones are clamped
Id = Annotated[str, Meta(min_length=1, max_length=128)]  # events.ID_MAX_LENGTH


class GeoDoc(Struct, forbid_unknown_fields=True):
    country: str | UnsetType = UNSET
    city: str | UnsetType = UNSET
    lat: Annotated[float, Meta(ge=-90, le=90)] | UnsetType = UNSET
    lon: Annotated[float, Meta(ge=-180, le=180)] | UnsetType = UNSET


class CustomerDoc(Struct, forbid_unknown_fields=True):
    id: str
    territory: str | UnsetType = UNSET
    tier: Tier | UnsetType = UNSET


class EventDoc(Struct, forbid_unknown_fields=True):
    event_id: Id
    timestamp: str
    employee_id: Id
    action: Action
    object_type: str | UnsetType = UNSET
    record_count: Count | UnsetType = UNSET
    customers: list[CustomerDoc] | UnsetType = UNSET
    territories: dict[str, Count] | UnsetType = UNSET
    tiers: dict[Tier, Count] | UnsetType = UNSET
    source_ip: str | UnsetType = UNSET
    device_id: str | UnsetType = UNSET
    geo: GeoDoc | UnsetType = UNSET
    session_id: str | UnsetType = UNSET
    channel: Channel | UnsetType = UNSET
    bytes: Count | UnsetType = UNSET


decode_event = msgspec.json.Decoder(EventDoc).decode
NotPlain = msgspec.MsgspecError  # any document the Structs do not take as it stands
