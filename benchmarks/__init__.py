"""Reproducible benchmarks: ``python -m benchmarks [detection|speed|state|all]``."""
