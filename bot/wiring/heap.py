"""Collector settings for the bot process, applied once by `sabai run` after start-up.

The area tree, the search index, the strings and the lessons are a few hundred thousand
objects that live as long as the process; CPython's cycle collector would walk them again on
every full collection. Freezing them after start-up takes them out of its way, and a larger
young-generation threshold makes the frequent collections rarer: one update allocates a few
thousand short-lived objects, most of them freed by reference counting anyway.
`bench/updates.py --gc-defaults` measures Sabai without these settings.
"""

from __future__ import annotations

import gc

# Allocations between young-generation collections (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze everything alive now and collect the young generation less often.

    Frozen objects are never collected, so call it once, when start-up data is loaded.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
