"""Python's garbage collector, set for a long-running process (`gateway serve`, `worker`, `sandbox`).

A full collection walks every object the process tracks. A started API holds about 170,000 (modules,
the app, SQLAlchemy's and Litestar's tables), and under load each full collection stopped its event
loop for 70-140 ms, one every few seconds: most of the accept latency's p99 (BENCHMARKS.md). Frozen
once started (CPython's ``gc.freeze``, made for this), those are never walked again; a collection
walks only what the process made since. The young generation's threshold is raised too: CPython's
700 allocations suit small scripts, and a busy server then collects thousands of times a second.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 10, 10)  # allocations before a young collection; young ones before each older one


def settle_after_startup() -> None:
    """Collect what starting up left behind, then keep the rest out of every later collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
