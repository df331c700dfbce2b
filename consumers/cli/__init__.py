"""The ``insider-detector`` command tree (entry point ``consumers.cli:main``)."""

from __future__ import annotations

from consumers.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
