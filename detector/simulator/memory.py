"""Keeping large generations cheap: the cyclic garbage collector paused while building."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The simulator builds millions of acyclic dicts; the collector would rescan all live ones
    again and again (rendering ran three times slower). Reference counting frees them anyway."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
