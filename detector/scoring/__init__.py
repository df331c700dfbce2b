"""Risk scoring: each event against the employee, the peer group and HR.

One module per signal, each following the protocol in ``signal.py``; the
usual range and cold start they share in ``bands.py``; ``Scorer`` composes
the registered list (``scorer.SIGNALS``).
"""

from __future__ import annotations

from detector.scoring.calendar import is_month_end
from detector.scoring.observation import Assessment, Observation, score_of
from detector.scoring.scorer import SIGNALS, Scorer
from detector.scoring.signal import BaseSignal, Case, Signal

__all__ = [
    "SIGNALS", "Assessment", "BaseSignal", "Case", "Observation", "Scorer", "Signal",
    "is_month_end", "score_of",
]
