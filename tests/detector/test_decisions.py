from __future__ import annotations

from detector.decisions import IncidentBook, Trigger
from detector.settings import DecisionSettings
from detector.wire.actions import Reason
from detector.wire.times import rfc3339

T0 = 1_790_000_000.0


def trig(eid: str, score: int, ts: float, emp: str = "E1") -> Trigger:
    return Trigger(eid, ts, rfc3339(ts), emp, score, [Reason("volume_action", "x", score)],
                   "summary", "sales", "active")


def book() -> IncidentBook:
    return IncidentBook(DecisionSettings(), clock=lambda: T0)


def test_below_alert_threshold_does_nothing() -> None:
    assert book().decide(trig("e1", 39, T0)) == []


def test_severity_levels() -> None:
    b = book()
    assert [b.severity(x) for x in (40, 55, 70, 85, 100)] == [0, 1, 2, 3, 3]


def test_one_incident_escalates_instead_of_new_alerts() -> None:
    b = book()
    first = b.decide(trig("e1", 45, T0))
    assert [a.type for a in first] == ["alert"] and first[0].severity == "low"
    assert b.decide(trig("e2", 48, T0 + 60)) == []  # same severity: absorbed
    esc = b.decide(trig("e3", 72, T0 + 120))
    assert [a.type for a in esc] == ["alert"]
    assert esc[0].escalation and esc[0].severity == "high"
    assert esc[0].incident_id == first[0].incident_id


def test_freeze_once_then_release_on_ttl() -> None:
    b = book()
    acts = b.decide(trig("e1", 90, T0))
    assert [a.type for a in acts] == ["alert", "freeze"]
    freeze = acts[1]
    assert freeze.scope == "data_out"
    assert freeze.expires_at == rfc3339(T0 + 86400)
    assert [a.type for a in b.decide(trig("e2", 95, T0 + 10))] == []
    assert b.expire(T0 + 86399) == []
    rel = b.expire(T0 + 86400)
    assert [a.type for a in rel] == ["release"]
    assert rel[0].release_reason == "ttl_expired"
    assert rel[0].incident_id == freeze.incident_id
    assert b.expire(T0 + 10 * 86400) == []  # released once


def test_analyst_release_and_ttl_release_share_one_id() -> None:
    b1, b2 = book(), book()
    b1.decide(trig("e1", 90, T0))
    b2.decide(trig("e1", 90, T0))
    by_analyst = b1.release("E1", "analyst", T0 + 5)
    by_ttl = b2.expire(T0 + 86400)
    assert by_analyst[0].action_id == by_ttl[0].action_id
    assert b1.expire(T0 + 86400) == []
    assert b1.release("E1", "analyst", T0 + 6) == []


def test_action_ids_are_deterministic() -> None:
    a = [x.action_id for x in book().decide(trig("e1", 90, T0))]
    b = [x.action_id for x in book().decide(trig("e1", 90, T0))]
    c = [x.action_id for x in book().decide(trig("e9", 90, T0))]
    assert a == b and a != c and len(set(a)) == 2


def test_quiet_incident_closes_and_new_evidence_opens_a_new_one() -> None:
    b = book()
    first = b.decide(trig("e1", 45, T0))[0]
    later = b.decide(trig("e2", 45, T0 + 2 * 86400))
    assert len(later) == 1 and later[0].incident_id != first.incident_id


def test_employees_have_separate_incidents() -> None:
    b = book()
    x = b.decide(trig("e1", 45, T0, "E1"))
    y = b.decide(trig("e2", 45, T0, "E2"))
    assert x and y and x[0].incident_id != y[0].incident_id
