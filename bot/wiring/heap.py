"""Keep Python's cycle collector off the data Sabai loads once at start.

The area tree, the typo-tolerant search index, the strings and the lessons are a few hundred
thousand objects that live as long as the process. CPython's collector re-walks all of them
on every full collection, and with its default thresholds a busy bot runs one every few
hundred updates: `bench/updates.py` measured 3.9 ms CPU per update with the defaults, 3.2
with start-up objects frozen and 3.1 with a larger first-generation threshold as well.

Frozen objects are never collected, so something built at start and dropped later (nothing
is, today) would stay in memory until the process ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between young-generation collections (CPython's default is 700): one update
# allocates a few thousand short-lived objects, most freed by reference counting anyway.
YOUNG_THRESHOLD = 10_000


class _Settled:
    """How many apps are settled in this process, and the thresholds found before the first:
    collector settings are process-wide, so only the last app to close restores them."""

    users = 0
    thresholds: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def settled() -> Iterator[None]:
    """Freeze everything alive now; when the last user exits, unfreeze and restore thresholds."""
    if _Settled.users == 0:
        _Settled.thresholds = gc.get_threshold()
    _Settled.users += 1
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, _Settled.thresholds[1], _Settled.thresholds[2])
    try:
        yield
    finally:
        _Settled.users -= 1
        if _Settled.users == 0:
            gc.set_threshold(*_Settled.thresholds)
            # Without this, a process that builds the app more than once (the tests, the
            # benchmarks) would keep every earlier app's cycles for good.
            gc.unfreeze()
