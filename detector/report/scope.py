"""The scope of an incident for customer notification, as keyed pseudonyms.

After a leak the company must notify the customers it touched, yet no alert,
log or report may carry a customer id.  So the scope names each customer the
incident's events listed by ``HMAC-SHA256(key, customer id)``, with a key held
by the CRM's owner: the security team can pass the references on, and only
the key holder can map them back (by hashing their own customer list with the
same key, :func:`resolve`).  Events that only carried counts (``territories``,
``tiers``, or a ``customers`` sample smaller than ``record_count``) are given
as counts by territory and tier.

An incident's events are those its actions name (the alert, each escalation,
the freeze) and every event of the employee between the first and the last of
them: events absorbed into an open incident raise no new action but belong to
it.  ``hours_after`` widens that to later events.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import DetectorError
from detector.report.inputs import ActionDoc, action_time
from detector.wire.events import Event

MIN_KEY_BYTES = 16


class ScopeKeyError(DetectorError, ValueError):
    """No usable pseudonym key: the message says which setting or file and why."""


def load_key(value: str, path: str) -> bytes:
    """The pseudonym key from a file (preferred) or a setting's value.

    Refuses to go on without one: an unkeyed hash of a customer id can be
    reversed by hashing every id, so it would be no pseudonym at all.
    """
    if path:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise ScopeKeyError(f"scope key file {path}: {exc.strerror or exc}") from None
        where = f"scope key file {path}"
    else:
        key = value.strip().encode()
        where = "service.scope_key"
    if not key:
        raise ScopeKeyError("no pseudonym key: set service.scope_key_file (or --key-file) to "
                            "the key file held by the CRM's owner")
    if len(key) < MIN_KEY_BYTES:
        raise ScopeKeyError(f"{where}: the key is {len(key)} bytes; use at least "
                            f"{MIN_KEY_BYTES} random bytes")
    return key


def pseudonym(key: bytes, customer_id: str) -> str:
    """The keyed reference of one customer id (hex HMAC-SHA256)."""
    return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()


def resolve(key: bytes, references: Iterable[str], customer_ids: Iterable[str]
            ) -> dict[str, str]:
    """Map references back to customer ids, for the key holder: {reference: id}.

    Hashes the holder's own ids and keeps those that were referenced; a
    reference with no match (an id since deleted) is simply absent.
    """
    wanted = set(references)
    out: dict[str, str] = {}
    for cid in customer_ids:
        ref = pseudonym(key, cid)
        if ref in wanted:
            out[ref] = cid
    return out


@dataclass(slots=True)
class IncidentEvents:
    """One incident's actions and events (see the module's docstring for which)."""

    incident_id: str
    employee_id: str
    actions: list[ActionDoc]
    events: list[Event]
    named: set[str]
    missing: list[str] = field(default_factory=list)


def incident_events(actions: Iterable[ActionDoc], events: Iterable[Event], incident_id: str,
                    hours_after: float = 0.0) -> IncidentEvents:
    """The incident's events; raises LookupError when no action has that incident id."""
    mine = sorted((a for a in actions if a.get("incident_id") == incident_id), key=action_time)
    if not mine:
        raise LookupError(f"no action with incident id {incident_id}")
    employee = str(mine[0]["employee_id"])
    named = {e for a in mine if a["type"] != "release" for e in a.get("event_ids", [])}
    own = [ev for ev in events if ev.employee_id == employee]
    found = {ev.event_id: ev for ev in own if ev.event_id in named}
    times = [ev.ts for ev in found.values()]
    chosen = dict(found)
    if times:
        first, last = min(times), max(times) + hours_after * 3600.0
        chosen.update((ev.event_id, ev) for ev in own if first <= ev.ts <= last)
    ordered = sorted(chosen.values(), key=lambda ev: (ev.ts, ev.event_id))
    return IncidentEvents(incident_id, employee, mine, ordered, named,
                          sorted(named - found.keys()))


@dataclass(slots=True)
class Scope:
    """Who an incident touched: references, and counts where no ids were listed."""

    incident_id: str
    employee_id: str
    events: int
    references: dict[str, list[str]]  # reference -> event ids that listed the customer
    unlisted_rows: int
    unlisted_by_territory: dict[str, int]
    unlisted_by_tier: dict[str, int]
    missing_events: list[str]

    def lines(self) -> list[dict[str, Any]]:
        """JSON Lines records: a summary, one per customer reference, the counted rest."""
        out: list[dict[str, Any]] = [{
            "record": "summary", "incident_id": self.incident_id,
            "employee_id": self.employee_id, "events": self.events,
            "customers_listed": len(self.references), "unlisted_rows": self.unlisted_rows,
            "events_not_found": self.missing_events,
        }]
        out += [{"record": "customer", "incident_id": self.incident_id, "reference": ref,
                 "event_ids": ids} for ref, ids in sorted(self.references.items())]
        out += [{"record": "unlisted", "incident_id": self.incident_id, "by": "territory",
                 "territory": t, "rows": n} for t, n in sorted(self.unlisted_by_territory.items())]
        out += [{"record": "unlisted", "incident_id": self.incident_id, "by": "tier",
                 "tier": t, "rows": n} for t, n in sorted(self.unlisted_by_tier.items())]
        return out


def _spread(counts: Mapping[str, int] | None, share: int, total: int) -> Counter[str]:
    """The part of per-territory (or tier) counts that belongs to the unlisted rows.

    When an event lists some customers and counts all of them, the counts
    cover the listed too; their share is taken out proportionally (rounded).
    """
    out: Counter[str] = Counter()
    if not counts or share <= 0:
        return out
    whole = sum(counts.values()) or 1
    for name, n in counts.items():
        part = round(n * share / whole) if share < total else n
        if part:
            out[name] += part
    return out


def scope(key: bytes, found: IncidentEvents) -> Scope:
    """Pseudonymise the customers ``found``'s events listed; count the rest."""
    refs: dict[str, list[str]] = {}
    rows = 0
    by_territory: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    for ev in found.events:
        for cid in dict.fromkeys(ev.customer_ids):
            refs.setdefault(pseudonym(key, cid), []).append(ev.event_id)
        unlisted = max(0, ev.record_count - len(set(ev.customer_ids)))
        if unlisted == 0:
            continue
        rows += unlisted
        by_territory += _spread(ev.territories, unlisted, ev.record_count)
        by_tier += _spread(ev.tiers, unlisted, ev.record_count)
    return Scope(found.incident_id, found.employee_id, len(found.events), refs, rows,
                 dict(by_territory), dict(by_tier), found.missing)


def rows_out(found: IncidentEvents) -> tuple[int, dict[str, int], dict[str, int]]:
    """Rows moved out by the incident's data-out events: total, by territory, by tier."""
    total = 0
    by_territory: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    for ev in found.events:
        if ev.data_out:
            total += ev.record_count
            by_territory.update(ev.territories or {})
            by_tier.update(ev.tiers or {})
    return total, dict(by_territory), dict(by_tier)
