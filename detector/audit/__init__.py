"""The audit trail: a hash-chained, append-only log of what was decided."""
