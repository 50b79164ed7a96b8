"""Pausing Python's cyclic garbage collector while a block executes and commits.

A block allocates hundreds of thousands of short-lived container objects, nearly
all freed at once by reference counting. Each allocation burst still triggers
collector passes, and the oldest generation's passes walk the whole long-lived
heap (value cache, decoded transactions, node bookkeeping): measured at about a
sixth of a 5,000-transfer block's time. Paused for the block, the collector
runs again right after it, so cyclic garbage is still reclaimed.

A running node also settles its collector once started (`settle_for_serving`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OLDEST_EVERY = 100
"""Middle-generation passes between passes over the oldest generation (CPython's
default is 10). Each oldest pass walks every long-lived object; a validator's
decoded-transaction cache keeps promoting new ones, so at the default a node under
load walked its whole heap every 10-20 s, 0.2-0.4 s each time: 3-10% of its CPU
(bench/cometbft.py, 2026-12-03). At 100 a pass comes every few minutes under that
load; cyclic garbage (rare here: reference counting frees nearly everything)
waits that much longer."""

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; nested and threaded uses share one
    pause, and the collector comes back only if it was on when the first began."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def settle_for_serving() -> None:
    """Once a node has started: collect, then move everything alive (modules, the API's
    routes and models, genesis, what the caches hold by then) out of the collector's
    walks for good, and make the oldest generation's passes rarer (OLDEST_EVERY).

    Frozen objects are still freed by reference counting; only a cycle among them that
    later becomes garbage is never collected, a one-time bound of the start-up heap."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, OLDEST_EVERY)
