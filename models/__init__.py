"""What the detector learns: compact online statistics and behaviour baselines."""

from __future__ import annotations
