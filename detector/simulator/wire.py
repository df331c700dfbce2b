"""Drafts to wire-format events: ids, timestamps as real clients print them, optional fields."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import orjson

from detector.simulator.customers import CustomerPool
from detector.simulator.drafts import (
    ACTIONS,
    BARE_CUSTOMER,
    CITY_GEO,
    NO_CHANNEL,
    NO_DEVICE,
    NO_GEO,
    NO_OBJECT,
    NO_SESSION,
    OBJECTS,
    Extras,
)
from detector.simulator.geography import MINUTE_US, City, offset_suffix
from detector.simulator.malformed import corrupt
from detector.simulator.memory import collector_paused
from detector.simulator.workforce import CHANNELS, FORMATS, Employee, Location

_LOCAL = np.array([local for local, _ in FORMATS])
_DIGITS = np.array([digits for _, digits in FORMATS])
_UNITS: tuple[tuple[int, Literal["s", "ms", "us"]], ...] = ((0, "s"), (3, "ms"), (6, "us"))
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection, so distinct inputs give distinct ids."""
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def stamps(t: np.ndarray, fmt: np.ndarray, off: np.ndarray) -> list[str]:
    """RFC 3339 text for each instant in its row's wire format (UTC or local offset)."""
    local = _LOCAL[fmt]
    shifted = t + np.where(local, off.astype(np.int64) * MINUTE_US, 0)
    text = np.empty(len(t), dtype=object)
    digits = _DIGITS[fmt]
    for d, unit in _UNITS:
        mask = digits == d
        if mask.any():
            instants = shifted[mask].astype("datetime64[us]")
            text[mask] = np.datetime_as_string(instants, unit=unit)
    suffix = {o: offset_suffix(o) for o in np.unique(off).tolist()}
    return [stamp + (suffix[o] if here else "Z")
            for stamp, here, o in zip(text.tolist(), local.tolist(), off.tolist(), strict=True)]


@dataclass
class _Chunk:
    """Per-row values of one batch, as Python lists for fast indexing."""

    first_line: int
    ids: list[str]
    sessions: list[str]
    times: list[str]
    broken: list[bool]
    picks: list[int]
    t: list[int]
    emp: list[int]
    act: list[int]
    cust: list[int]
    obj: list[int]
    cnt: list[int]
    sess: list[int]
    loc: list[int]
    dev: list[int]
    chan: list[int]
    flags: list[int]
    extra: list[int]


def _frag(key: str, value: Any) -> str:
    return f',"{key}":' + orjson.dumps(value).decode()


@cache
def _geo_frags(city: City) -> tuple[str, str]:
    full, short = Location.at("", city).geo, Location.at("", city).geo_city
    return _frag("geo", full), _frag("geo", short)


class Renderer:
    """Turns sorted drafts into events and remembers which ids belong to which case.

    Plain rows are written straight to JSON text from pre-encoded fragments when encoding
    (several times faster than building and dumping dicts); the dict path produces the same
    bytes through ``orjson``, which the tests hold it to.
    """

    def __init__(self, seed: int, staff: list[Employee], customers: CustomerPool, extras: Extras,
                 cases: int, malformed_rate: float) -> None:
        keys = np.random.SeedSequence([seed, 99]).generate_state(3, dtype=np.uint64)
        self.id_key, self.session_key, self.defect_key = (np.uint64(k) for k in keys)
        self.customers = customers
        self.extras = extras
        self.malformed_rate = malformed_rate
        self.case_ids: list[list[str]] = [[] for _ in range(cases)]
        self.case_times: list[list[int]] = [[] for _ in range(cases)]
        self.malformed: list[dict[str, Any]] = []
        self.lines = 0
        self.numbers = np.array([e.number for e in staff], dtype=np.uint64)
        self.emp_ids = [e.employee_id for e in staff]
        self.emp_locs = [e.locations for e in staff]
        self.emp_devs = [[d.device_id for d in e.devices] for e in staff]
        self.emp_frag = [_frag("employee_id", e.employee_id) for e in staff]
        self.dev_frag = [[_frag("device_id", d.device_id) for d in e.devices] for e in staff]
        self.loc_frag = [[(_frag("source_ip", p.ip), *_geo_frags(p.city)) for p in e.locations]
                         for e in staff]
        self.act_frag = [_frag("action", a) for a in ACTIONS]
        self.obj_frag = [_frag("object_type", o) for o in OBJECTS]
        self.chan_frag = [_frag("channel", c) for c in CHANNELS]

    def render(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Events of ``rows`` (already in order)."""
        with collector_paused():
            c = self._chunk(rows)
            out = [self._rich(c, j) if c.extra[j] >= 0 or c.broken[j] else self._plain(c, j)
                   for j in range(len(c.ids))]
        self.lines += len(rows)
        return out

    def encode(self, rows: np.ndarray) -> bytes:
        """The same events as :meth:`render`, as JSON lines."""
        with collector_paused():
            c = self._chunk(rows)
            text = self._text(c, np.argsort(rows["emp"], kind="stable"))
        self.lines += len(rows)
        return text.encode()

    def _chunk(self, rows: np.ndarray) -> _Chunk:
        n = len(rows)
        lines = np.arange(self.lines, self.lines + n, dtype=np.uint64)
        ids = [f"ev-{v:016x}" for v in mix64(lines + self.id_key).tolist()]
        sess_raw = (self.numbers[rows["emp"]] << np.uint64(32)) | rows["sess"].astype(np.uint64)
        sessions = [f"s-{v & 0xFFFFFFFFFF:010x}"
                    for v in mix64(sess_raw ^ self.session_key).tolist()]
        broken: list[bool] = [False] * n
        picks: list[int] = []
        if self.malformed_rate > 0 and n:
            u = mix64(lines ^ self.defect_key)
            broken = (u < np.uint64(int(self.malformed_rate * 2.0**64))).tolist()
            picks = (u >> np.uint64(40)).tolist()
        return _Chunk(
            self.lines, ids, sessions, stamps(rows["t"], rows["fmt"], rows["off"]) if n else [],
            broken, picks, rows["t"].tolist(), rows["emp"].tolist(), rows["act"].tolist(),
            rows["cust"].tolist(), rows["obj"].tolist(), rows["cnt"].tolist(),
            rows["sess"].tolist(), rows["loc"].tolist(), rows["dev"].tolist(),
            rows["chan"].tolist(), rows["flags"].tolist(), rows["extra"].tolist())

    def _plain(self, c: _Chunk, j: int) -> dict[str, Any]:
        e, flags = c.emp[j], c.flags[j]
        ev: dict[str, Any] = {"event_id": c.ids[j], "timestamp": c.times[j],
                              "employee_id": self.emp_ids[e], "action": ACTIONS[c.act[j]]}
        o = c.obj[j]
        if o >= 0 and not flags & NO_OBJECT:
            ev["object_type"] = OBJECTS[o]
        if c.cnt[j] >= 0:
            ev["record_count"] = c.cnt[j]
        k = c.cust[j]
        if k >= 0:
            cust = self.customers
            ev["customers"] = [{"id": cust.ids[k]} if flags & BARE_CUSTOMER else
                               {"id": cust.ids[k], "territory": cust.territory_names[k],
                                "tier": cust.tier_names[k]}]
        self._where(c, j, ev)
        return ev

    def _where(self, c: _Chunk, j: int, ev: dict[str, Any]) -> None:
        e, flags = c.emp[j], c.flags[j]
        place = self.emp_locs[e][c.loc[j]]
        ev["source_ip"] = place.ip
        d = c.dev[j]
        if d >= 0 and not flags & NO_DEVICE:
            ev["device_id"] = self.emp_devs[e][d]
        if not flags & NO_GEO:
            ev["geo"] = dict(place.geo_city if flags & CITY_GEO else place.geo)
        if c.sess[j] >= 0 and not flags & NO_SESSION:
            ev["session_id"] = c.sessions[j]
        ch = c.chan[j]
        if ch >= 0 and not flags & NO_CHANNEL:
            ev["channel"] = CHANNELS[ch]

    def _rich(self, c: _Chunk, j: int) -> dict[str, Any]:
        """Rows with a payload, and rows to be damaged."""
        x = c.extra[j]
        if x < 0:
            ev = self._plain(c, j)
        else:
            item = self.extras.pop(x)
            ev = {"event_id": c.ids[j], "timestamp": c.times[j],
                  "employee_id": self.emp_ids[c.emp[j]], "action": ACTIONS[c.act[j]]}
            size = item.content.get("bytes")
            ev.update(item.content)
            ev.pop("bytes", None)
            if item.context is not None:
                ev.update(item.context)
            else:
                self._where(c, j, ev)
            if size is not None:
                ev["bytes"] = size
            if item.tag >= 0:
                self.case_ids[item.tag].append(c.ids[j])
                self.case_times[item.tag].append(c.t[j])
                return ev
        if c.broken[j]:
            original = ev["event_id"]
            ev, defect = corrupt(ev, c.picks[j])
            self.malformed.append({
                "line": c.first_line + j + 1,
                "event_id": original if ev.get("event_id") == original else None,
                "defect": defect,
            })
        return ev

    def _text(self, c: _Chunk, emp_order: np.ndarray) -> str:
        """JSON lines of a chunk. Plain rows are visited employee by employee: their fragments
        then stay in cache, which at 100,000 employees halves the time."""
        lines: list[str] = [""] * len(c.ids)
        dumps = orjson.dumps
        extra_l, broken = c.extra, c.broken
        for j in range(len(c.ids)):
            if extra_l[j] >= 0 or broken[j]:
                lines[j] = dumps(self._rich(c, j)).decode() + "\n"
        cust = self.customers
        cust_ids, cust_terr, cust_tier = cust.ids, cust.territory_names, cust.tier_names
        emp_frag, loc_frag, dev_frag = self.emp_frag, self.loc_frag, self.dev_frag
        act_frag, obj_frag, chan_frag = self.act_frag, self.obj_frag, self.chan_frag
        ids, times, sessions = c.ids, c.times, c.sessions
        emp_l, act_l, obj_l, cnt_l, cust_l = c.emp, c.act, c.obj, c.cnt, c.cust
        loc_l, dev_l, sess_l, chan_l, flag_l = c.loc, c.dev, c.sess, c.chan, c.flags
        for j in emp_order.tolist():
            if lines[j]:
                continue
            e, flags = emp_l[j], flag_l[j]
            o = obj_l[j]
            obj = obj_frag[o] if o >= 0 and not flags & NO_OBJECT else ""
            count = f',"record_count":{cnt_l[j]}' if cnt_l[j] >= 0 else ""
            k = cust_l[j]
            if k < 0:
                customer = ""
            elif flags & BARE_CUSTOMER:
                customer = f',"customers":[{{"id":"{cust_ids[k]}"}}]'
            else:
                customer = (f',"customers":[{{"id":"{cust_ids[k]}","territory":"{cust_terr[k]}",'
                            f'"tier":"{cust_tier[k]}"}}]')
            ip, geo_full, geo_city = loc_frag[e][loc_l[j]]
            d = dev_l[j]
            device = dev_frag[e][d] if d >= 0 and not flags & NO_DEVICE else ""
            geo = "" if flags & NO_GEO else (geo_city if flags & CITY_GEO else geo_full)
            session = (f',"session_id":"{sessions[j]}"'
                       if sess_l[j] >= 0 and not flags & NO_SESSION else "")
            ch = chan_l[j]
            channel = chan_frag[ch] if ch >= 0 and not flags & NO_CHANNEL else ""
            lines[j] = (f'{{"event_id":"{ids[j]}","timestamp":"{times[j]}"{emp_frag[e]}'
                        f'{act_frag[act_l[j]]}{obj}{count}{customer}{ip}{device}{geo}{session}'
                        f'{channel}}}\n')
        return "".join(lines)
