"""Keep Python's cycle collector off the data Sabai loads once at start.

The area tree, the typo-tolerant search index, the strings and the lessons are a few hundred
thousand objects that live as long as the process. CPython's collector re-walks all of them
on every full collection, and with its default thresholds a busy bot runs one every few
hundred updates: `bench/updates.py` measured 3.9 ms CPU per update with the defaults, 3.2
with start-up objects frozen and 3.1 with a larger first-generation threshold as well.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between young-generation collections (CPython's default is 700): one update
# allocates a few thousand short-lived objects, most freed by reference counting anyway.
YOUNG_THRESHOLD = 10_000


@contextmanager
def settled() -> Iterator[None]:
    """Freeze everything alive now; on exit, hand it back to the collector and its thresholds."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        # Frozen objects are never collected; without this, a process that builds the app
        # more than once (the tests, the benchmarks) would keep every earlier app's cycles.
        gc.unfreeze()
