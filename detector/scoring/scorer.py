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
from detector.wire.employees import EmployeeRecord
from detector.wire.events import Event
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


def _staged(signals: tuple[Signal, ...], stage: str, kinds: str) -> dict[str, tuple[Signal, ...]]:
    """Per kind of event, the signals whose ``stage`` is implemented and concerns it."""
    return {
        kind: tuple(x for x in signals
                    if getattr(type(x), stage) is not getattr(BaseSignal, stage)
                    and kind in getattr(x, kinds))
        for kind in KINDS
    }


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
        kind = DATA_OUT if ev.data_out else VIEW if ev.action == "view" else OTHER
        for signal in self._observers[kind]:
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
        kind = DATA_OUT if ev.data_out else VIEW if ev.action == "view" else OTHER
        case = Case(self.s, obs, emp, peer, glob)
        for signal in self._assessors[kind]:
            signal.assess(case)
        reasons = case.reasons
        reasons.sort(key=lambda r: -r.points)
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
        kind = DATA_OUT if ev.data_out else VIEW if ev.action == "view" else OTHER
        if suspicious:
            for signal in self._refusers[kind]:
                signal.refuse(obs, emp, peer, glob, cold)
        else:
            for signal in self._learners[kind]:
                signal.learn(obs, emp, peer, glob)

    def note_elevated(self, obs: Observation, peer: PeerBaseline) -> None:
        """An alerted data-out still counts towards the peer group's surge detector."""
        note_elevated(obs, peer)
