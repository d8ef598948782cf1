"""How long Python's garbage collector stops the process, per generation.

A full (generation 2) collection walks every tracked object: with 100,000 queued jobs and 10,000
nodes that is several hundred thousand objects and 100-300 ms during which the event loop runs
nothing. The loop-lag histogram shows such a stall but not its cause; this one names it. The objects
each collection freed are counted too: garbage in reference cycles (what only the collector frees)
is what makes a young collection cost more than a look at what is young.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)
METRIC = "scale_scheduler_gc_pause_seconds"


class GcPauses:
    def __init__(
        self, registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.clock = clock
        self.histogram = Histogram(
            METRIC,
            "Time the garbage collector stopped the process, per collection, by generation collected",
            ["generation"],
            buckets=BUCKETS_S,
            registry=registry,
        )
        self.collected = Counter(
            "scale_scheduler_gc_collected_objects",
            "Objects the garbage collector freed (unreachable reference cycles), by generation collected",
            ["generation"],
            registry=registry,
        )
        self._started: float | None = None

    def __call__(self, phase: str, info: dict) -> None:
        # Called by the collector itself (any thread) at the start and the stop of a collection.
        if phase == "start":
            self._started = self.clock()
        elif self._started is not None:
            generation = str(info.get("generation", "?"))
            self.histogram.labels(generation).observe(self.clock() - self._started)
            self.collected.labels(generation).inc(info.get("collected", 0))
            self._started = None

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
