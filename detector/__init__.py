"""Pure detection core: events, directory, features, scoring and decisions.

Nothing in this package talks to Kafka; the service in ``consumers`` and the
file replay both drive the same :class:`detector.engine.Engine`.
"""

from __future__ import annotations

__version__ = "0.1.0"
