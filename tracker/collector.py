"""Running a long batch job with Python's cyclic garbage collector out of the way.

A replay or an import allocates millions of short-lived objects, none in
cycles, which reference counting frees. At the default thresholds the
collector ran every 700 allocations, and each older collection walked the
whole application's heap: a quarter of a replay's CPU (docs/standards.md,
docs/import.md).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

# The cyclic collector's thresholds while a batch job runs: a collection of the
# youngest generation every 50,000 allocations instead of 700.
BATCH_GC_THRESHOLD = (50_000, 50, 100)


@contextmanager
def collector_paused():
    """Run the block with the objects alive before it frozen and the cyclic collector run rarely.

    The collector still runs, so a cycle made meanwhile is freed; the
    previous thresholds and the heap's generations are restored afterwards.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BATCH_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
