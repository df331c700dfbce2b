"""Alerts as OCSF Detection Findings, for SIEMs that ingest OCSF rather than our action JSON.

Target: OCSF 1.6.0, Detection Finding (class_uid 2004, Findings category 2).  One
incident is one finding: its first alert creates it and each escalation updates it,
so ``finding_info.uid`` is the incident id and ``metadata.uid`` the action id.
Freezes and releases are enforcement commands, not findings, and are not rendered.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

from detector.wire.actions import ALERT, Action

OCSF_VERSION = "1.6.0"
PROFILES = ("host",)
PRODUCT_NAME = "crm-insider-detector"
VENDOR_NAME = "crm-insider-detector"
ANALYTIC_NAME = "crm-insider-behaviour"

CLASS_UID = 2004
CLASS_NAME = "Detection Finding"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"
ACTIVITY_CREATE = 1
ACTIVITY_UPDATE = 2
STATUS_NEW = 1
ANALYTIC_BEHAVIORAL = 2

SEVERITY_IDS: dict[str, tuple[int, str]] = {
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}
RISK_LEVEL_IDS: dict[str, tuple[int, str]] = {
    "low": (1, "Low"),
    "medium": (2, "Medium"),
    "high": (3, "High"),
    "critical": (4, "Critical"),
}

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_OFFSET_MINUTES = 1080


def to_ocsf(action: Action, *, product_version: str) -> dict[str, Any]:
    """Render an alert as an OCSF Detection Finding; pure, so replay renders the same bytes.

    ``time`` is the triggering event's time, not the decision's, so two runs over the
    same input produce the same finding apart from the created/modified time.
    """
    if action.type != ALERT:
        raise ValueError(f"only alerts are OCSF findings, not {action.type!r} actions")
    if action.severity not in SEVERITY_IDS:
        raise ValueError(f"unknown severity {action.severity!r}")
    event_ms, offset_minutes = _epoch_ms(action.event_time)
    decided_ms, _ = _epoch_ms(action.decided_at)
    update = action.escalation
    activity_id = ACTIVITY_UPDATE if update else ACTIVITY_CREATE
    activity_name = "Update" if update else "Create"
    severity_id, severity = SEVERITY_IDS[action.severity]
    risk_level_id, risk_level = RISK_LEVEL_IDS[action.severity]

    verb = "escalated to" if update else "at"
    title = f"Insider risk {verb} {action.severity} for employee {action.employee_id}"
    analytic: dict[str, Any] = {
        "name": ANALYTIC_NAME,
        "type_id": ANALYTIC_BEHAVIORAL,
        "type": "Behavioral",
    }
    if action.model_version is not None:
        analytic["version"] = action.model_version
    finding_info: dict[str, Any] = {
        "uid": action.incident_id,
        "title": title,
        "desc": action.summary or title,
        "types": list(dict.fromkeys(r.code for r in action.reasons)),
        "analytic": analytic,
        "last_seen_time": event_ms,
        "related_events": [{"uid": e} for e in action.event_ids],
    }
    if update:
        finding_info["modified_time"] = decided_ms
    else:
        finding_info["created_time"] = decided_ms
        finding_info["first_seen_time"] = event_ms

    out: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"{CLASS_NAME}: {activity_name}",
        "time": event_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": STATUS_NEW,
        "status": "New",
        "is_alert": True,
        "message": action.summary or title,
        "metadata": {
            "version": OCSF_VERSION,
            # `actor` belongs to the Host profile: a validator applies its
            # attributes only when the event declares it.
            "profiles": list(PROFILES),
            "uid": action.action_id,
            "correlation_uid": action.incident_id,
            "original_time": action.event_time,
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": VENDOR_NAME,
                "version": product_version,
            },
        },
        "finding_info": finding_info,
        "risk_score": action.score,
        "risk_level_id": risk_level_id,
        "risk_level": risk_level,
        "actor": {"user": {"uid": action.employee_id}},
        "evidences": [
            {
                "name": r.code,
                "data": {
                    "code": r.code,
                    "text": r.text,
                    "points": round(r.points, 1),
                    "details": copy.deepcopy(r.details),
                },
            }
            for r in action.reasons
        ],
    }
    if abs(offset_minutes) <= _MAX_OFFSET_MINUTES:
        out["timezone_offset"] = offset_minutes
    unmapped = {
        k: v
        for k, v in (
            ("peer_group", action.peer_group),
            ("employee_status", action.employee_status),
        )
        if v is not None
    }
    if unmapped:
        out["unmapped"] = unmapped
    return out


def _epoch_ms(value: str) -> tuple[int, int]:
    """RFC 3339 date-time -> (ms since the epoch, offset in minutes), in integers.

    Integer arithmetic keeps the milliseconds exact; a leap second (:60) counts as
    the first moment of the next minute.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(f"not an RFC 3339 date-time with an offset: {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zulu, sign, off_h, off_m = m.groups()[6:]
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"time of day out of range: {value!r}")
    try:
        days = date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError as exc:
        raise ValueError(f"not a calendar date: {value!r}") from exc
    offset = 0
    if zulu is None:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"offset out of range: {value!r}")
        offset = (int(off_h) * 60 + int(off_m)) * (-1 if sign == "-" else 1)
    millis = int((fraction or "").ljust(3, "0")[:3])
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset * 60
    return seconds * 1000 + millis, offset
