"""Reproducible benchmarks: ``python -m benchmarks [SECTION|all] [--quick]``."""
