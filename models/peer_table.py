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
# Values are clipped to this quantile of the group's visible values, once it has
# ``CLIP_MIN_WEIGHT`` of them: a quantile, unlike mean + c sd, cannot be
# ratcheted up by values placed at it.
CLIP_QUANTILE = 0.99
CLIP_MIN_WEIGHT = 20.0


class Contribution:
    """One member's observations for one group on one day (or a group's folded sum)."""

    __slots__ = ("first_ts", "hists", "hours", "moments")

    def __init__(self) -> None:
        self.moments: dict[str, Moments] = {}
        # Per quantity, for the ceilings: the busiest 1% (reads) and the clip (writes).
        self.hists: dict[str, LogHistogram] = {}
        self.hours: dict[int, int] = {}
        self.first_ts = math.inf

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
        return c

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.moments, self.hists, self.hours, self.first_ts)

    def __setstate__(self, s: tuple[Any, ...]) -> None:
        self.moments, self.hists, self.hours, self.first_ts = s


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
        self.version = 0
        # group -> member -> last day they contributed (folded): who a view is built from.
        self.members: dict[str, dict[str, int]] = {}

    # -- writing ----------------------------------------------------------

    def _slot(self, group: str, member: str, day: int) -> Contribution:
        by_group = self.pending.setdefault(day, {}).setdefault(group, {})
        c = by_group.get(member)
        if c is None:
            c = by_group[member] = Contribution()
        return c

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

    def take(self, day: int) -> dict[str, dict[str, Contribution]]:
        """The contributions stamped ``day`` (a service publishes them)."""
        return self.pending.get(day, {})

    def add_remote(self, day: int, group: str, member: str, c: Contribution) -> None:
        """A contribution made elsewhere (another task or process)."""
        self.pending.setdefault(day, {}).setdefault(group, {})[member] = c

    # -- folding ----------------------------------------------------------

    def advance(self, ts: float) -> None:
        """Make visible every contribution stamped before the day of ``ts``."""
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
            for member in sorted(members):
                g.merge(members[member].capped(self.member_cap))
                seen[member] = max(seen.get(member, day), day)

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
    writes contributions.  Who moved unusual volumes today (the surge detector)
    stays with the task: it needs the same day, which no shared view has."""

    __slots__ = ("day", "group", "member", "seen", "table")

    def __init__(self, table: PeerTable, group: str) -> None:
        super().__init__()
        self.table = table
        self.group = group
        self.member = ""
        self.day = 0
        self.seen = -1

    def bind(self, member: str, ts: float) -> None:
        """The event being scored: whose it is and when (its day stamps what it teaches)."""
        table = self.table
        table.advance(ts)
        self.member = member
        self.day = math.floor(ts / DAY)
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

    def member_count(self) -> int:
        """Members the view is built from (who contributed in the last 30 days)."""
        return self.table.member_count(self.group, self.day - 30)

    def ceiling(self, key: str) -> float | None:
        g = self.table.view(self.group)
        if key != "rows" or g is None or self.rows.n < 100:
            return None
        q = g.hists["rows"].quantile(0.99)
        return None if math.isnan(q) else q


__all__ = ["EVERYONE", "Contribution", "PeerTable", "SharedPeer", "poisoning_bound"]
