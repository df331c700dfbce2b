"""The shared peer table: peer-group and population baselines merged from every task.

Tasks (one per input partition) see only their own employees.  Each adds its
employees' observations to the table as *member-day contributions*, mergeable
partial statistics (``models.mergeable``) keyed by group, event-time day and
member.  A contribution becomes visible to everyone at the next UTC day
boundary in event time: when the first event of day D is scored, every
contribution stamped before D is folded in, in a fixed order (day, group,
member), whatever task or process made it.  Decisions read only folded state,
so they do not depend on how employees are spread over partitions.

Poisoning: a member's contribution per key and day weighs at most
``member_cap`` observations, and each value is clipped to the group's folded
``CLIP_QUANTILE``, so no one member, however busy, can teach the group that
bulk exports are normal (``poisoning_bound`` states by how much they can).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable
from statistics import NormalDist
from typing import Any

import orjson

from models.baseline import PeerBaseline
from models.mergeable import LogHistogram, Moments
from models.stats import EWStat
from models.volume import VOLUME_KEYS

EVERYONE = "*"  # the population's group name in the table
DAY = 86400.0
HOUR = 3600.0
# How far back "the group is doing this too" looks, in closed hours.
SURGE_HOURS = 24
# Values are clipped to this quantile of the group's visible values, once it has
# ``CLIP_MIN_WEIGHT`` of them: a quantile, unlike mean + c sd, cannot be
# ratcheted up by values placed at it.
CLIP_QUANTILE = 0.99
CLIP_MIN_WEIGHT = 20.0


class Contribution:
    """One member's observations for one group on one day (or a group's folded sum)."""

    __slots__ = ("elevated", "exported", "first_ts", "hists", "hours", "moments")

    def __init__(self) -> None:
        self.moments: dict[str, Moments] = {}
        # Per quantity, for the ceilings: the busiest 1% (reads) and the clip (writes).
        self.hists: dict[str, LogHistogram] = {}
        self.hours: dict[int, int] = {}
        self.first_ts = math.inf
        # Hours (since the epoch) the member moved data out / moved more than their
        # own usual that day: the surge detector counts them once the hour is closed.
        self.exported: set[int] = set()
        self.elevated: set[int] = set()

    def add(self, key: str, v: float) -> None:
        m = self.moments.get(key)
        if m is None:
            m = self.moments[key] = Moments()
            self.hists[key] = LogHistogram()
        m.add(v)
        self.hists[key].add(v)

    def capped(self, cap: float) -> Contribution:
        """This contribution with each key's weight capped at ``cap`` (in place)."""
        for key, m in self.moments.items():
            if m.w > cap:
                f = cap / m.w
                m.scale(f)
                self.hists[key].scale(f, drop_below=0.0)
        return self

    def merge(self, other: Contribution) -> None:
        for key in sorted(other.moments):
            m = self.moments.get(key)
            if m is None:
                m = self.moments[key] = Moments()
                self.hists[key] = LogHistogram()
            m.merge(other.moments[key])
            self.hists[key].merge(other.hists[key])
        for how, c in other.hours.items():
            self.hours[how] = self.hours.get(how, 0) + c
        self.first_ts = min(self.first_ts, other.first_ts)
        # Not the surge marks: the table keeps those per member (PeerTable._fold).

    def decay(self, f: float) -> None:
        for m in self.moments.values():
            m.scale(f)
        for h in self.hists.values():
            h.scale(f)

    def nbytes(self) -> int:
        """Approximate memory: 3 floats per key, 2 per histogram bin and hour."""
        bins = sum(len(h.bins) for h in self.hists.values())
        return 24 * len(self.moments) + 16 * bins + 16 * len(self.hours) + 64

    def to_wire(self) -> bytes:
        """JSON for the peer-stats topic (floats round-trip exactly)."""
        return orjson.dumps({
            "m": {k: [m.w, m.mean, m.m2] for k, m in sorted(self.moments.items())},
            "h": {k: {str(b): c for b, c in sorted(h.bins.items())}
                  for k, h in sorted(self.hists.items())},
            "hw": {str(k): c for k, c in sorted(self.hours.items())},
            "t": self.first_ts if math.isfinite(self.first_ts) else None,
            "x": sorted(self.exported),
            "e": sorted(self.elevated),
        })

    @classmethod
    def from_wire(cls, raw: bytes) -> Contribution:
        doc = orjson.loads(raw)
        c = cls()
        for k, (w, mean, m2) in doc["m"].items():
            c.moments[k] = Moments(float(w), float(mean), float(m2))
            h = c.hists[k] = LogHistogram()
            h.bins = {int(b): float(n) for b, n in doc["h"].get(k, {}).items()}
            h.w = sum(h.bins.values())
        c.hours = {int(k): int(n) for k, n in doc["hw"].items()}
        c.first_ts = math.inf if doc["t"] is None else float(doc["t"])
        c.exported = {int(h) for h in doc.get("x", ())}
        c.elevated = {int(h) for h in doc.get("e", ())}
        return c

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.moments, self.hists, self.hours, self.first_ts, self.exported,
                self.elevated)

    def __setstate__(self, s: tuple[Any, ...]) -> None:
        (self.moments, self.hists, self.hours, self.first_ts, self.exported,
         self.elevated) = s


def poisoning_bound(share: float, k: float, p: float = CLIP_QUANTILE) -> float:
    """How far (in sds of the honest members' log values) one member can lift a
    group's band top (mean + k sd), when their weight is at most ``share`` of the
    group's and every value is clipped to the group's ``p`` quantile.

    Starting from an honest view, a clipped value never lifts the ``p`` quantile
    above the honest members' own (it is placed at, not beyond, it), so the
    member's values stay below honest mean + z sd (z: the normal ``p`` quantile;
    log volumes are near normal).  Their share then moves the mean by at most
    ``s z`` sd and widens the sd by at most ``sqrt((1-s) + s(1-s) z²)``.
    """
    s = min(max(share, 0.0), 1.0)
    z = NormalDist().inv_cdf(p)
    r = math.sqrt((1.0 - s) + s * (1.0 - s) * z * z)
    return s * z + k * max(r - 1.0, 0.0)


class PeerTable:
    """Every peer group's folded statistics and the contributions not yet visible."""

    def __init__(self, member_cap: float = 3.0, day_decay: float = 0.93) -> None:
        self.member_cap = member_cap
        self.day_decay = day_decay
        self.groups: dict[str, Contribution] = {}
        self.folded_day: dict[str, int] = {}  # group -> last day folded (for decay)
        # day -> group -> member -> contribution, until the day is folded.
        self.pending: dict[int, dict[str, dict[str, Contribution]]] = {}
        self.day = -(1 << 40)  # the day whose view is current
        self.hour = -(1 << 40)  # the latest hour an event was scored in
        self.version = 0
        # group -> member -> last day they contributed (folded): who a view is built from.
        self.members: dict[str, dict[str, int]] = {}
        # group -> member -> hours of folded days they exported / moved unusual
        # volumes in (the last SURGE_HOURS before the newest folded day's end).
        self.exported: dict[str, dict[str, set[int]]] = {}
        self.elevated: dict[str, dict[str, set[int]]] = {}
        # member -> (day, group) of contributions changed since the owner last
        # published them; kept only where a service publishes (``publishing``).
        self.publishing = False
        self.touched: dict[str, set[tuple[int, str]]] = {}
        # The bundle whose fitted table this one started from (``seed``), if any.
        self.origin: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What was learned; not what a service still has to publish."""
        state = dict(self.__dict__)
        state["publishing"], state["touched"] = False, {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def seed(self, base: PeerTable, origin: str) -> bool:
        """Start from a fitted table (a bundle's): everything it learned, its days
        not yet visible folded in, replaces this table's folded view; what is
        folded later lands on top of it.  Pending contributions (a service's,
        from its topic) stay pending.  Folding the fitted table whole keeps it
        out of what a task's restore replaces, so every process and replay start
        from the same view.  Once per ``origin``: every task of a process adopts
        the same bundle, and the first one seeds the table."""
        if self.origin == origin:
            return False
        fitted = copy.deepcopy(base)
        for day in sorted(fitted.pending):
            fitted._fold(day, fitted.pending.pop(day))
        self.origin = origin
        self.groups, self.folded_day = fitted.groups, fitted.folded_day
        self.members, self.exported, self.elevated = (fitted.members, fitted.exported,
                                                      fitted.elevated)
        self.version += 1
        return True

    # -- writing ----------------------------------------------------------

    def _slot(self, group: str, member: str, day: int) -> Contribution:
        by_group = self.pending.setdefault(day, {}).setdefault(group, {})
        c = by_group.get(member)
        if c is None:
            c = by_group[member] = Contribution()
        if self.publishing:
            self.touched.setdefault(member, set()).add((day, group))
        return c

    def take_touched(self, member: str) -> list[tuple[int, str, Contribution]]:
        """The member's contributions changed since the last call, to publish."""
        out = []
        for day, group in sorted(self.touched.pop(member, ())):
            c = self.pending.get(day, {}).get(group, {}).get(member)
            if c is not None:
                out.append((day, group, c))
        return out

    def clipped(self, group: str, key: str, v: float) -> float:
        """``v`` clipped to the group's visible ``CLIP_QUANTILE`` (once it has
        ``CLIP_MIN_WEIGHT`` values); only upwards, where poisoning hides exports."""
        g = self.groups.get(group)
        h = g.hists.get(key) if g is not None else None
        if h is None or h.w < CLIP_MIN_WEIGHT:
            return v
        return min(v, h.quantile(CLIP_QUANTILE))

    def contribute(self, group: str, member: str, day: int, key: str, v: float) -> None:
        self._slot(group, member, day).add(key, self.clipped(group, key, v))

    def contribute_hour(self, group: str, member: str, day: int, how: int) -> None:
        hours = self._slot(group, member, day).hours
        hours[how] = hours.get(how, 0) + 1

    def contribute_start(self, group: str, member: str, day: int, ts: float) -> None:
        c = self._slot(group, member, day)
        c.first_ts = min(c.first_ts, ts)

    def contribute_export(self, group: str, member: str, day: int, hour: int,
                          elevated: bool) -> None:
        c = self._slot(group, member, day)
        c.exported.add(hour)
        if elevated:
            c.elevated.add(hour)

    def take(self, day: int) -> dict[str, dict[str, Contribution]]:
        """The contributions stamped ``day`` (a service publishes them)."""
        return self.pending.get(day, {})

    def add_remote(self, day: int, group: str, member: str, c: Contribution) -> None:
        """A contribution made elsewhere (another task or process)."""
        self.pending.setdefault(day, {}).setdefault(group, {})[member] = c

    # -- folding ----------------------------------------------------------

    def advance(self, ts: float) -> None:
        """Make visible every contribution stamped before the day of ``ts``."""
        self.hour = max(self.hour, math.floor(ts / HOUR))
        day = math.floor(ts / DAY)
        if day <= self.day:
            return
        self.day = day
        due = sorted(d for d in self.pending if d < day)
        for d in due:
            self._fold(d, self.pending.pop(d))
        if due:
            self.version += 1

    def _fold(self, day: int, by_group: dict[str, dict[str, Contribution]]) -> None:
        for group in sorted(by_group):
            g = self.groups.get(group)
            if g is None:
                g = self.groups[group] = Contribution()
            last = self.folded_day.get(group, day)
            if day > last:
                g.decay(self.day_decay ** (day - last))
            self.folded_day[group] = max(last, day)
            members = by_group[group]
            seen = self.members.setdefault(group, {})
            exported = self.exported.setdefault(group, {})
            elevated = self.elevated.setdefault(group, {})
            for member in sorted(members):
                c = members[member]
                g.merge(c.capped(self.member_cap))
                seen[member] = max(seen.get(member, day), day)
                if c.exported:
                    exported.setdefault(member, set()).update(c.exported)
                if c.elevated:
                    elevated.setdefault(member, set()).update(c.elevated)
            # Marks older than the surge window of the next day's hours are dropped.
            oldest = (day + 1) * 24 - SURGE_HOURS
            for marks in (exported, elevated):
                for member in list(marks):
                    kept = {h for h in marks[member] if h >= oldest}
                    if kept:
                        marks[member] = kept
                    else:
                        del marks[member]

    def surge_counts(self, group: str, member: str, hour: int) -> tuple[int, int]:
        """Others of ``group`` elevated and exporting in the SURGE_HOURS closed hours
        before ``hour``: folded days' marks and those of days not folded yet, which
        are complete for every hour before the current one (the barrier's promise)."""
        lo = hour - SURGE_HOURS
        elevated: set[str] = set()
        exported: set[str] = set()

        def scan(marks: dict[str, set[int]], into: set[str]) -> None:
            for m, hours in marks.items():
                if m != member and m not in into and any(lo <= h < hour for h in hours):
                    into.add(m)
        scan(self.elevated.get(group, {}), elevated)
        scan(self.exported.get(group, {}), exported)
        for day in self.pending:
            if day < lo // 24:
                continue
            members = self.pending[day].get(group, {})
            scan({m: c.elevated for m, c in members.items()}, elevated)
            scan({m: c.exported for m, c in members.items()}, exported)
        return len(elevated), len(exported)

    def member_count(self, group: str, since_day: int) -> int:
        """Members whose contributions to ``group`` since ``since_day`` are visible."""
        return sum(1 for d in self.members.get(group, {}).values() if d >= since_day)

    def view(self, group: str) -> Contribution | None:
        return self.groups.get(group)

    def nbytes(self) -> int:
        return sum(g.nbytes() for g in self.groups.values())


_STAT_OF = {"rows": "rows", "rows_1h": "rows_1h", "rows_24h": "rows_24h",
            "actions_24h": "actions_24h", "distinct_viewed_1h": "views",
            "distinct_viewed_10m": "views_10m"}


class SharedPeer(PeerBaseline):
    """A task's handle on one group of the shared table: reads the visible view,
    writes contributions.  The surge detector reads who moved unusual volumes in
    the last 24 closed hours: the current hour's are not visible to every task yet."""

    __slots__ = ("day", "group", "hour", "member", "seen", "table")

    def __init__(self, table: PeerTable, group: str) -> None:
        super().__init__()
        self.table = table
        self.group = group
        self.member = ""
        self.day = 0
        self.hour = 0
        self.seen = -1

    def bind(self, member: str, ts: float, stamp_hour: int | None = None) -> None:
        """The event being scored: whose it is and when.  What it teaches is stamped
        ``stamp_hour`` and its day (default: the event's); an engine passes its
        partition's open hour, so an event older than its partition's newest still
        lands in an hour that is not closed yet, in replay and the service alike."""
        table = self.table
        table.advance(ts)
        self.member = member
        hour = math.floor(ts / HOUR)
        self.hour = hour if stamp_hour is None else max(hour, stamp_hour)
        self.day = self.hour // 24
        if self.seen != table.version:
            self._materialise()

    def _materialise(self) -> None:
        self.seen = self.table.version
        g = self.table.view(self.group)
        for key, slot in _STAT_OF.items():
            st = EWStat(self.alpha)
            m = g.moments.get(key) if g is not None else None
            if m is not None:
                st.n, st.mean, st.var = int(m.w), m.mean, m.var
            setattr(self, slot, st)
        if g is not None:
            bins = self.hours.bins
            for how, c in g.hours.items():
                bins[how] = min(c, 65535)
            self.hours.active = sum(bins)
            self.first_ts = g.first_ts if math.isfinite(g.first_ts) else math.nan

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        small = bool(x.get("small", False))
        for key in VOLUME_KEYS:
            v = x.get(key)
            if v is not None and not (small and key == "rows"):
                self.table.contribute(self.group, self.member, self.day, key, math.log1p(v))

    def learn_views(self, distinct: float, peak: float | None) -> None:
        t, g, who, d = self.table, self.group, self.member, self.day
        t.contribute(g, who, d, "distinct_viewed_1h", distinct)
        if peak is not None:
            t.contribute(g, who, d, "distinct_viewed_10m", peak)

    def count_hour(self, how: int) -> None:
        self.table.contribute_hour(self.group, self.member, self.day, how)

    def start(self, ts: float) -> None:
        self.table.contribute_start(self.group, self.member, self.day, ts)

    def note_export(self, employee_id: str, ts: float, elevated: bool) -> None:
        self.table.contribute_export(self.group, employee_id, self.day, self.hour, elevated)

    def surge(
        self, employee_id: str, ts: float, min_others: int, min_share: float
    ) -> tuple[int, int]:
        """Like ``PeerBaseline.surge`` over the last 24 closed hours."""
        elevated, others = self.table.surge_counts(self.group, employee_id, self.hour)
        if elevated >= min_others and elevated >= min_share * max(others, 1):
            return (elevated, others)
        return (0, others)

    def __getstate__(self) -> dict[str, Any]:
        """Only the group: the rest is the table's, which the owner re-attaches."""
        return {"group": self.group}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.group = state["group"]

    def member_count(self) -> int:
        """Members the view is built from (who contributed in the last 30 days)."""
        return self.table.member_count(self.group, self.day - 30)

    def ceiling(self, key: str) -> float | None:
        g = self.table.view(self.group)
        if key != "rows" or g is None or self.rows.n < 100:
            return None
        q = g.hists["rows"].quantile(0.99)
        return None if math.isnan(q) else q


__all__ = ["EVERYONE", "HOUR", "Contribution", "PeerTable", "SharedPeer", "poisoning_bound"]
