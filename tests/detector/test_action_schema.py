"""The published action contract (schemas/action.schema.json) against what the code emits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from detector.wire.actions import (
    FREEZE,
    FREEZE_SCOPE,
    LOCK_SCOPE,
    RELEASE,
    Action,
    Reason,
    derive_id,
)
from detector.wire.times import parse_timestamp
from tests.actionkit import sample_alert

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "action.schema.json").read_text()
)

# jsonschema only checks date-time when an optional RFC 3339 package is installed;
# the detector's own strict parser makes the check independent of that.
FORMATS = FormatChecker()
FORMATS.checks("date-time")(
    lambda value: not isinstance(value, str) or parse_timestamp(value) is not None
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FORMATS)

INCIDENT = derive_id("inc", "ev-20261122-0001")
FREEZE_ID = derive_id("freeze", "ev-20261122-0002")


def reasons() -> list[Reason]:
    return [
        Reason(
            "volume_action",
            "exported 4,800 rows in one action; usual up to 310 (own baseline)",
            38.46,
            {
                "rows": 4800,
                "rows_1h": 5100,
                "rows_24h": 5100,
                "usual_max": 310,
                "times_usual_max": 15.5,
                "basis": "own baseline",
            },
        ),
        Reason(
            "out_of_territory",
            "62% of 4,800 rows outside APAC-South (usually 4%)",
            14.21,
            {
                "share_outside": 0.62,
                "usual_share_outside": 0.04,
                "outside_territories": ["EMEA-West", "NA-East"],
            },
        ),
        Reason(
            "high_value_customers",
            "2,900 rows of high-value customers (60%)",
            10.4,
            {"tiers": {"high": 2900, "medium": 1400, "low": 500}},
        ),
        Reason(
            "notice_period",
            "employee is under notice: data-out risk raised by 25%",
            9.7,
            {"status": "notice"},
        ),
        Reason(
            "peer_surge",
            "1 of 6 peers in sales-apac also moved unusual volumes today",
            -3.2,
            {"peers_elevated": 1, "peers_exporting": 6},
        ),
    ]


def alert(**changes: Any) -> Action:
    return sample_alert("ev-20261122-0001", reasons(), changes)


def escalated() -> Action:
    return alert(
        action_id=derive_id("alert", "ev-20261122-0002"),
        event_time="2026-11-22T10:31:44+08:00",
        decided_at="2026-11-22T02:31:45.002Z",
        severity="critical",
        score=91,
        event_ids=["ev-20261122-0002"],
        escalation=True,
    )


def freeze() -> Action:
    return alert(
        action_id=FREEZE_ID,
        type=FREEZE,
        event_time="2026-11-22T10:31:44+08:00",
        decided_at="2026-11-22T02:31:45.003Z",
        severity="critical",
        score=91,
        event_ids=["ev-20261122-0002"],
        scope=FREEZE_SCOPE,
        expires_at="2026-11-23T02:31:44.000Z",
    )


def release(reason: str = "ttl_expired") -> Action:
    return Action(
        action_id=derive_id("release", FREEZE_ID),
        type=RELEASE,
        employee_id="E1042",
        event_time="2026-11-23T02:31:44.000Z",
        decided_at="2026-11-23T02:40:00.514Z",
        severity="critical",
        score=0,
        reasons=[],
        event_ids=["ev-20261122-0002"],
        incident_id=INCIDENT,
        scope=FREEZE_SCOPE,
        summary=f"data-out rights of E1042 restored ({reason.replace('_', ' ')})",
        model_version="online",
        release_reason=reason,
    )


def unknown_employee_alert() -> Action:
    return alert(
        employee_id="svc-export-7",
        peer_group=None,
        employee_status="unknown",
        event_time="2026-11-22T02:14:07z",
        reasons=[Reason("unknown_employee", "account not in the employee directory", 45.0)],
        score=45,
        severity="low",
    )


def errors(doc: dict[str, Any]) -> list[ValidationError]:
    return list(VALIDATOR.iter_errors(doc))


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_field_says_why_it_exists() -> None:
    fields = {**SCHEMA["properties"], **SCHEMA["$defs"]["reason"]["properties"]}
    undocumented = sorted(k for k, v in fields.items() if len(v.get("description", "")) < 20)
    assert undocumented == []
    assert "customer identifiers never appear" in SCHEMA["description"]


@pytest.mark.parametrize(
    "action",
    [alert(), escalated(), freeze(), release(), release("analyst"), unknown_employee_alert()],
    ids=["alert", "escalated", "freeze", "release_ttl", "release_analyst", "unknown_employee"],
)
def test_emitted_actions_validate(action: Action) -> None:
    doc = json.loads(json.dumps(action.to_dict()))
    assert errors(doc) == []


def test_escalation_is_emitted_and_accepted() -> None:
    doc = escalated().to_dict()
    assert doc["escalation"] is True
    assert errors(doc) == []


def test_freeze_without_expires_at_is_rejected() -> None:
    doc = freeze().to_dict()
    del doc["expires_at"]
    found = errors(doc)
    assert [e.validator for e in found] == ["required"]
    assert "'expires_at' is a required property" in found[0].message


def test_unknown_type_is_rejected() -> None:
    doc = alert().to_dict()
    doc["type"] = "quarantine"
    assert any(e.validator == "enum" and list(e.path) == ["type"] for e in errors(doc))


def test_score_above_100_is_rejected() -> None:
    doc = alert(score=101).to_dict()
    found = errors(doc)
    assert [(e.validator, list(e.path)) for e in found] == [("maximum", ["score"])]


def test_extra_top_level_field_is_rejected() -> None:
    doc = alert().to_dict()
    doc["customer_id"] = "C-88123"
    found = errors(doc)
    assert [e.validator for e in found] == ["additionalProperties"]
    assert "customer_id" in found[0].message


def test_customer_ids_in_reason_details_are_rejected() -> None:
    leaky = Reason("volume_action", "exported 3 rows", 40.0, {"customer_ids": ["C-1", "C-2"]})
    found = errors(alert(reasons=[leaky]).to_dict())
    assert [list(e.path) for e in found] == [["reasons", 0, "details"]]
    assert "customer_ids" in found[0].message


def test_decided_at_must_be_an_rfc3339_utc_time() -> None:
    spaced = alert(decided_at="2026-11-22 02:14:09Z").to_dict()
    assert [e.validator for e in errors(spaced)] == ["format"]
    local = alert(decided_at="2026-11-22T10:14:09.118+08:00").to_dict()
    assert [e.validator for e in errors(local)] == ["pattern"]


def test_alert_cannot_carry_freeze_fields() -> None:
    found = errors(alert(expires_at="2026-11-23T02:31:44.000Z").to_dict())
    assert [e.message for e in found] == ["False schema does not allow '2026-11-23T02:31:44.000Z'"]


def test_release_needs_a_reason_and_judges_no_event() -> None:
    doc = release().to_dict()
    del doc["release_reason"]
    assert [e.message for e in errors(doc)] == ["'release_reason' is a required property"]
    scored = alert(type=RELEASE, scope=FREEZE_SCOPE, release_reason="analyst").to_dict()
    assert sorted((e.validator, list(e.path)) for e in errors(scored)) == [
        ("const", ["score"]),
        ("maxItems", ["reasons"]),
    ]


def test_multiline_reason_text_is_rejected() -> None:
    two_lines = Reason("off_hours", "exported 900 rows\nat 03:10 local time", 12.0)
    assert any(e.validator == "pattern" for e in errors(alert(reasons=[two_lines]).to_dict()))


def lock() -> Action:
    return alert(
        action_id=derive_id("freeze", "offboarding", "E1042"),
        type=FREEZE,
        event_time="2026-11-27T23:00:00.000Z",
        severity="low",
        score=0,
        reasons=[Reason("offboarding_last_day", "the last day 2026-11-27 ended (Europe/Berlin): "
                        "data access locked", 0.0, {"status": "notice",
                                                    "last_day": "2026-11-27"})],
        event_ids=["directory:2026-11-02T09:00:00.000Z"],
        escalation=False,
        scope=LOCK_SCOPE,
    )


def test_offboarding_lock_has_no_expiry_and_may_not_carry_one() -> None:
    doc = json.loads(json.dumps(lock().to_dict()))
    assert "expires_at" not in doc
    assert errors(doc) == []
    doc["expires_at"] = "2026-12-27T23:00:00.000Z"
    found = errors(doc)
    assert [e.message for e in found] == ["False schema does not allow '2026-12-27T23:00:00.000Z'"]
    lifted = release("hr_reversed").to_dict()
    lifted["scope"] = LOCK_SCOPE
    assert errors(json.loads(json.dumps(lifted))) == []
    doc = lock().to_dict()
    doc["scope"] = "everything"
    assert any(list(e.path) == ["scope"] for e in errors(doc))
