"""Risk scoring: each event against the employee, the peer group and HR."""

from __future__ import annotations

from detector.scoring.scorer import Assessment, Observation, Scorer, is_month_end, score_of

__all__ = ["Assessment", "Observation", "Scorer", "is_month_end", "score_of"]
