"""Alerts rendered as OCSF Detection Findings (detector.wire.ocsf)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from detector.wire.actions import FREEZE, FREEZE_SCOPE, RELEASE, Action, Reason, derive_id
from detector.wire.ocsf import OCSF_VERSION, to_ocsf
from tests.actionkit import sample_alert

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


def alert(**changes: Any) -> Action:
    return sample_alert("ev-1", [
        Reason(
            "volume_action",
            "exported 4,800 rows in one action; usual up to 310",
            52.37,
            {"rows": 4800, "usual_max": 310},
        ),
        Reason(
            "high_value_customers",
            "2,900 rows of high-value customers (60%)",
            21.6,
            {"tiers": {"high": 2900, "medium": 1400, "low": 500}},
        ),
    ], {"severity": "high", "score": 74, **changes})


def render(action: Action) -> dict[str, Any]:
    return to_ocsf(action, product_version="0.1.0")


def test_class_category_and_create_type() -> None:
    f = render(alert())
    assert (f["class_uid"], f["category_uid"]) == (2004, 2)
    assert (f["class_name"], f["category_name"]) == ("Detection Finding", "Findings")
    assert (f["activity_id"], f["activity_name"], f["type_uid"]) == (1, "Create", 200401)
    assert f["type_name"] == "Detection Finding: Create"
    assert f["status_id"] == 1 and f["is_alert"] is True


def test_escalation_updates_the_incident_finding() -> None:
    first = render(alert())
    esc = render(
        alert(
            action_id=derive_id("alert", "ev-2"),
            event_ids=["ev-2"],
            severity="critical",
            score=93,
            escalation=True,
        )
    )
    assert (esc["activity_id"], esc["activity_name"], esc["type_uid"]) == (2, "Update", 200402)
    assert esc["finding_info"]["uid"] == first["finding_info"]["uid"]
    assert esc["metadata"]["uid"] != first["metadata"]["uid"]
    assert "modified_time" in esc["finding_info"] and "created_time" not in esc["finding_info"]


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption", "risk_level_id"),
    [
        ("low", 2, "Low", 1),
        ("medium", 3, "Medium", 2),
        ("high", 4, "High", 3),
        ("critical", 5, "Critical", 4),
    ],
)
def test_severity_and_risk_level_mapping(
    severity: str, severity_id: int, caption: str, risk_level_id: int
) -> None:
    f = render(alert(severity=severity))
    assert (f["severity_id"], f["severity"]) == (severity_id, caption)
    assert (f["risk_level_id"], f["risk_level"]) == (risk_level_id, caption)


def test_time_is_the_event_time_in_utc_milliseconds() -> None:
    f = render(alert(event_time="2026-11-22T10:14:07.250+08:00"))
    expected = ms(datetime(2026, 11, 22, 2, 14, 7, 250_000, tzinfo=UTC))
    assert f["time"] == expected
    assert f["timezone_offset"] == 480
    assert f["metadata"]["original_time"] == "2026-11-22T10:14:07.250+08:00"
    assert f["finding_info"]["first_seen_time"] == f["finding_info"]["last_seen_time"] == expected
    assert f["finding_info"]["created_time"] == ms(
        datetime(2026, 11, 22, 2, 14, 9, 118_000, tzinfo=UTC)
    )


def test_negative_offset_and_lowercase_z() -> None:
    west = render(alert(event_time="2026-11-21T20:44:07-05:30"))
    assert west["time"] == ms(datetime(2026, 11, 22, 2, 14, 7, tzinfo=UTC))
    assert west["timezone_offset"] == -330
    assert render(alert(event_time="2026-11-22T02:14:07z"))["time"] == west["time"]


@pytest.mark.parametrize("bad", ["2026-11-22T10:14:07", "2026-11-22", "2026-02-30T00:00:00Z"])
def test_event_time_without_offset_or_date_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        render(alert(event_time=bad))


def test_identifiers_score_actor_and_reasons() -> None:
    a = alert()
    f = render(a)
    assert f["metadata"]["uid"] == a.action_id
    assert f["metadata"]["correlation_uid"] == a.incident_id
    assert f["metadata"]["version"] == OCSF_VERSION
    assert f["metadata"]["product"] == {
        "name": "crm-insider-detector",
        "vendor_name": "crm-insider-detector",
        "version": "0.1.0",
    }
    assert f["risk_score"] == 74
    assert f["actor"] == {"user": {"uid": "E1042"}}
    info = f["finding_info"]
    assert info["types"] == ["volume_action", "high_value_customers"]
    assert info["analytic"]["type_id"] == 2 and info["analytic"]["type"] == "Behavioral"
    assert info["related_events"] == [{"uid": "ev-1"}]
    assert f["message"] == info["desc"] == a.summary
    assert [(e["name"], e["data"]["points"]) for e in f["evidences"]] == [
        ("volume_action", 52.4),
        ("high_value_customers", 21.6),
    ]
    assert f["unmapped"] == {"peer_group": "sales-apac", "employee_status": "notice"}


def test_rendering_does_not_share_state_with_the_action() -> None:
    a = alert()
    render(a)["evidences"][1]["data"]["details"]["tiers"]["high"] = 0
    assert a.reasons[1].details["tiers"]["high"] == 2900


def test_freeze_and_release_are_not_findings() -> None:
    freeze = alert(type=FREEZE, scope=FREEZE_SCOPE, expires_at="2026-11-23T02:14:07.250Z")
    release = alert(
        type=RELEASE, scope=FREEZE_SCOPE, score=0, reasons=[], release_reason="ttl_expired"
    )
    for action in (freeze, release):
        with pytest.raises(ValueError, match="only alerts"):
            render(action)


def test_rendering_is_json_serialisable_with_orjson() -> None:
    f = render(alert(escalation=True))
    assert orjson.loads(orjson.dumps(f)) == f
