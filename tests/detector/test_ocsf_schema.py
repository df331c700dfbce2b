"""Every OCSF alert of a simulated world validates against OCSF 1.6.0's own schema,
offline: the Detection Finding class schema from PyPI's ``ocsf-json-schema``,
built with the profiles each alert declares, checked by ``jsonschema``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from detector.directory import Directory
from detector.engine import Engine
from detector.errors import InvalidRecord
from detector.settings import Settings
from detector.wire.actions import ALERT, Action
from detector.wire.employees import parse_employee
from detector.wire.events import parse_event
from detector.wire.ocsf import CLASS_UID, OCSF_VERSION, to_ocsf


@pytest.fixture(scope="module")
def ocsf() -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


def class_schema(ocsf: OcsfJsonSchemaEmbedded, profiles: list[str]) -> dict[str, Any]:
    name = ocsf.lookup_class_name_from_uid(CLASS_UID)
    schema: dict[str, Any] = ocsf.get_class_schema(name, profiles)
    return schema


def world_alerts(world: Path) -> list[Action]:
    directory = Directory()
    for raw in (world / "employees.jsonl").read_bytes().splitlines():
        try:
            directory.add(parse_employee(raw))
        except InvalidRecord:
            continue
    engine = Engine(Settings(), directory, clock=lambda: 0.0)
    alerts: list[Action] = []
    for raw in (world / "events.jsonl").read_bytes().splitlines():
        try:
            ev = parse_event(raw)
        except InvalidRecord:
            continue
        alerts += [a for a in engine.process(ev) if a.type == ALERT]
    return alerts


def test_every_alert_of_a_world_validates(ocsf: OcsfJsonSchemaEmbedded, small_world: Path
                                          ) -> None:
    alerts = world_alerts(small_world)
    assert len(alerts) >= 5
    assert any(a.escalation for a in alerts) or len({a.severity for a in alerts}) > 1
    schemas: dict[tuple[str, ...], dict[str, Any]] = {}
    for action in alerts:
        finding = orjson.loads(orjson.dumps(to_ocsf(action, product_version="0.1.0")))
        profiles = tuple(finding["metadata"]["profiles"])
        assert "host" in profiles  # `actor` is the Host profile's
        if profiles not in schemas:
            schemas[profiles] = class_schema(ocsf, list(profiles))
        schema = schemas[profiles]
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(finding)]
        assert errors == [], action.action_id


def test_the_declared_profile_is_what_admits_actor(ocsf: OcsfJsonSchemaEmbedded,
                                                   small_world: Path) -> None:
    """Without the Host profile the class schema refuses ``actor``: the declaration is needed."""
    finding = to_ocsf(world_alerts(small_world)[0], product_version="0.1.0")
    schema = class_schema(ocsf, [])
    errors = [e.message for e in jsonschema.validators.validator_for(schema)(schema)
              .iter_errors(finding)]
    assert any("actor" in e for e in errors)
