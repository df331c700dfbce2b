"""The protocol every signal follows, and the case one event makes.

A signal is one rule of evidence (volume, escalation, territory, ...).  For
each event the ``Scorer`` calls, in the order signals are registered:

* ``observe``: update the short-lived measures the signal needs (windows,
  counters) and record them on the ``Observation``; before any scoring;
* ``assess``: judge the ``Case`` against the baselines and append reasons
  with points; it must not change a baseline;
* ``learn``: fold an event that raised no alert into what is usual, after the
  decision; ``refuse``: what an event that raised one does instead (it must
  not teach what it was judged by: flag its period, reset a rise; one judged
  against the peer group, ``cold``, may still teach the employee's own
  baseline).

Signals that need nothing at one of the stages inherit ``BaseSignal``'s no-op,
and each stage names the kinds of event it concerns (``DATA_OUT``, ``VIEW``,
``OTHER``); the ``Scorer`` calls a stage only where both say so, which keeps
the per-event cost of a signal to the events it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from detector.scoring.observation import Observation
from detector.settings import ScoringSettings
from detector.wire.actions import Reason
from models.baseline import EmployeeBaseline, PeerBaseline
from models.volume import ClosedPeriods

DATA_OUT, VIEW, OTHER = "data_out", "view", "other"
KINDS = frozenset({DATA_OUT, VIEW, OTHER})


@dataclass(slots=True)
class Case:
    """One event under assessment: what it measured, what it is judged against,
    and the reasons found so far.

    Data-out signals see the points given before them (``data_points``), since
    context such as off-hours or customer value only weighs what is already
    anomalous.
    """

    s: ScoringSettings
    obs: Observation
    emp: EmployeeBaseline
    peer: PeerBaseline
    glob: PeerBaseline
    reasons: list[Reason] = field(default_factory=list)
    # Judged against a wider reference than the employee's own baseline.
    cold: bool = False
    # Points given by data-out signals so far, and by the two the off-hours
    # signal weighs.
    data_points: float = 0.0
    volume_points: float = 0.0
    territory_points: float = 0.0
    # The per-export escalation sum spoke: the daily one stays silent.
    escalated: bool = False
    # Why the hour is odd (None: it is not), once asked.
    off_hours: str | None = None
    off_hours_known: bool = False

    def add(self, reason: Reason, data_out: bool = False) -> None:
        """Record a reason; ``data_out``: its points count towards data-out risk."""
        self.reasons.append(reason)
        if data_out:
            self.data_points += reason.points


class Signal(Protocol):
    """One rule of evidence: measure, judge, learn."""

    codes: ClassVar[tuple[str, ...]]
    # The kinds of event each stage concerns.
    observes: ClassVar[frozenset[str]]
    assesses: ClassVar[frozenset[str]]
    learns: ClassVar[frozenset[str]]
    refuses: ClassVar[frozenset[str]]

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        """Update the measures this signal reads; ``closed``: the data-out hour and
        day that this event closed, if any (learned after every signal observed)."""

    def assess(self, case: Case) -> None:
        """Append reasons for this event; never change a baseline."""

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        """Fold an event that raised no alert into the baselines this signal owns."""

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        """An event that raised an alert: keep it out of what is usual."""


class BaseSignal:
    """No-op stages, for signals that need only some of them."""

    codes: ClassVar[tuple[str, ...]] = ()
    observes: ClassVar[frozenset[str]] = KINDS
    assesses: ClassVar[frozenset[str]] = KINDS
    learns: ClassVar[frozenset[str]] = KINDS
    refuses: ClassVar[frozenset[str]] = KINDS

    def __init__(self, s: ScoringSettings) -> None:
        self.s = s

    def observe(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
                glob: PeerBaseline, closed: ClosedPeriods | None) -> None:
        return None

    def assess(self, case: Case) -> None:
        return None

    def learn(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
              glob: PeerBaseline) -> None:
        return None

    def refuse(self, obs: Observation, emp: EmployeeBaseline, peer: PeerBaseline,
               glob: PeerBaseline, cold: bool) -> None:
        return None


VERBS = {"export": "exported", "download": "downloaded", "print": "printed",
         "bulk_api": "pulled via bulk API"}


def n(x: float) -> str:
    """A count for a reason's text: rounded, with thousands separators."""
    return f"{round(x):,}"
