"""CRM access events: the normalised form the core scores.

See ``shared/contract/access-event.schema.json`` for the wire contract.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = frozenset(
    {
        "login", "logout", "view", "search", "report_run", "export", "download",
        "print", "bulk_api", "create", "update", "delete", "share",
    }
)
# Actions that move customer data out of the CRM.
DATA_OUT_ACTIONS = frozenset({"export", "download", "print", "bulk_api"})
TIERS = ("high", "medium", "low")


@dataclass(slots=True)
class Event:
    """One validated, normalised access event.

    ``territories`` and ``tiers`` are record counts per territory / tier: taken
    from the event's own ``territories``/``tiers`` objects when present
    (they win), otherwise counted from ``customers``.  ``customer_ids`` exists
    only for distinct-customer counting inside the core and never leaves it.
    """

    event_id: str
    ts: float  # seconds since the epoch, UTC
    timestamp: str  # as sent, for echoing in actions
    employee_id: str
    action: str
    data_out: bool
    record_count: int
    object_type: str | None = None
    territories: dict[str, int] | None = None
    tiers: dict[str, int] | None = None
    customer_ids: tuple[str, ...] = ()
    source_ip: str | None = None
    device_id: str | None = None
    country: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    session_id: str | None = None
    channel: str | None = None
    bytes: int | None = None
