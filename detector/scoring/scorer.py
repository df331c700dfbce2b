"""Risk scoring: each event against the employee, the peer group and HR.

``Scorer.assess`` turns one event into a 0-100 score made of signals' reasons,
each with a stable code, a sentence with the numbers, and its points; the
score is their sum, capped at 100.  Each signal is a module of this package
(see ``signal.py`` for the protocol); ``SIGNALS`` lists them in the order
their reasons are written, which is the order ties are listed in.

The event is always scored before anything is learned from it, and learning
from an event that raised an alert is limited to facts, so an insider cannot
teach the baseline they are judged by.
"""

from __future__ import annotations

from collections.abc import Callable

from detector.features import local_clock
from detector.scoring.burst import Burst
from detector.scoring.changes import MassChange
from detector.scoring.customer_value import CustomerValue
from detector.scoring.departure import DepartureVolume
from detector.scoring.escalation import Escalation
from detector.scoring.frequency import FrequencyRise
from detector.scoring.harvest import Harvest
from detector.scoring.identity import NewDevice
from detector.scoring.lookups import RepeatedLookups
from detector.scoring.observation import Assessment, Observation, score_of
from detector.scoring.off_hours import OffHours
from detector.scoring.sessions import ConcurrentSessions
from detector.scoring.signal import DATA_OUT, KINDS, OTHER, VIEW, BaseSignal, Case, Signal
from detector.scoring.status import AccountStatus, Notice
from detector.scoring.territory import Territory
from detector.scoring.travel import Travel, place
from detector.scoring.volume import PeerSurge, Volume, learn_closed, note_elevated
from detector.settings import ScoringSettings
from detector.wire.actions import Reason
from detector.wire.employees import EmployeeRecord
from detector.wire.events import ACTIONS, DATA_OUT_ACTIONS, Event
from models.baseline import EmployeeBaseline, PeerBaseline
from models.stats import stable_hash

# The registered signals, in the order they write reasons.  Data-out context
# (off-hours, customer value, notice) weighs the points given before it.
SIGNALS: tuple[Callable[[ScoringSettings], Signal], ...] = (
    AccountStatus,
    Volume,
    PeerSurge,
    Escalation,
    FrequencyRise,
    DepartureVolume,
    Burst,
    Territory,
    OffHours,
    CustomerValue,
    Harvest,
    RepeatedLookups,
    MassChange,
    NewDevice,
    Travel,
    ConcurrentSessions,
    Notice,
)


def _strongest_first(reason: Reason) -> float:
    return -reason.points


def _kind(action: str) -> str:
    return DATA_OUT if action in DATA_OUT_ACTIONS else VIEW if action == "view" else OTHER


def _staged(signals: tuple[Signal, ...], stage: str, kinds: str) -> dict[str, tuple[Signal, ...]]:
    """Per CRM action, the signals whose ``stage`` is implemented and concerns its kind
    (keyed by action, not kind: the hot path then looks the event's action up once)."""
    by_kind = {
        kind: tuple(x for x in signals
                    if getattr(type(x), stage) is not getattr(BaseSignal, stage)
                    and kind in getattr(x, kinds))
        for kind in KINDS
    }
    return {action: by_kind[_kind(action)] for action in ACTIONS}


class Scorer:
    """The registered signals composed: measure, score, learn."""

    def __init__(self, s: ScoringSettings,
                 signals: tuple[Callable[[ScoringSettings], Signal], ...] = SIGNALS) -> None:
        self.s = s
        self.signals: tuple[Signal, ...] = tuple(make(s) for make in signals)
        # Only the stages a signal implements, for the events they concern, are
        # called on the hot path.
        self._observers = _staged(self.signals, "observe", "observes")
        self._assessors = _staged(self.signals, "assess", "assesses")
        self._learners = _staged(self.signals, "learn", "learns")
        self._refusers = _staged(self.signals, "refuse", "refuses")

    def observe(
        self,
        ev: Event,
        rec: EmployeeRecord | None,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
    ) -> Observation:
        """Measure the event: local time, then each signal's windows and counters."""
        tz = rec.tz if rec is not None else None
        abs_hour, how, minute = local_clock(tz, ev.ts)
        if rec is not None and not emp.follows(id(rec)):
            emp.take_job(id(rec), stable_hash(
                f"{rec.peer_group}|{rec.all_territories}|{sorted(rec.territories or ())}"
            ))
        obs = Observation(ev, rec, abs_hour, how, minute)
        closed = emp.close(abs_hour) if ev.data_out else None
        for signal in self._observers[ev.action]:
            signal.observe(obs, emp, peer, glob, closed)
        if closed is not None:
            learn_closed(closed, ev.ts, emp, peer, glob)
        return obs

    def assess(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
    ) -> Assessment:
        """Every signal's reasons, strongest first; changes no baseline."""
        ev = obs.ev
        case = Case(self.s, obs, emp, peer, glob)
        for signal in self._assessors[ev.action]:
            signal.assess(case)
        reasons = case.reasons
        if not reasons:  # most events: nothing to sort or add up
            return Assessment(0, reasons, case.cold)
        if len(reasons) > 1:
            reasons.sort(key=_strongest_first)
        return Assessment(score_of(reasons), reasons, case.cold)

    def learn(
        self,
        obs: Observation,
        emp: EmployeeBaseline,
        peer: PeerBaseline,
        glob: PeerBaseline,
        suspicious: bool,
        cold: bool = False,
        counted: bool = False,
    ) -> None:
        """Fold the event into the baselines; suspicious events only into facts.

        Event counts and location are facts and always move; what is *usual*
        (volumes, hours, territories, devices) only learns from events that
        raised nothing, except that an event judged against the peer group may
        teach the employee's own baseline (it was not judged by it).
        ``counted``: an event learned late (after a false-positive verdict) was
        counted when it was first seen.
        """
        ev = obs.ev
        geo = (ev.lat, ev.lon, ev.ts, place(ev)) if ev.lat is not None and ev.lon is not None \
            else None
        if emp.note_event(ev.ts, geo, counted):  # the employee's first event
            peer.start(ev.ts)
            glob.start(ev.ts)
        if suspicious:
            for signal in self._refusers[ev.action]:
                signal.refuse(obs, emp, peer, glob, cold)
        else:
            for signal in self._learners[ev.action]:
                signal.learn(obs, emp, peer, glob)

    def note_elevated(self, obs: Observation, peer: PeerBaseline) -> None:
        """An alerted data-out still counts towards the peer group's surge detector."""
        note_elevated(obs, peer)
