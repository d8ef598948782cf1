"""How late the event loop runs what is due: a timer every 100 ms, and how long after its deadline
the loop got round to it.

Everything the scheduler does shares one loop, so a step that blocks it (a long build, a slow
callback) delays every other: offers, updates, the status served. The lag is kept as a Prometheus
histogram (all of it since start) and as the recent samples behind ``recent()`` (p50, p99, max),
and ``problem()`` names a lag past ``LOOP_LAG_WARN_MS`` within the recent window, for a scheduler
warning.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, Histogram

INTERVAL_S = 0.1
WINDOW_S = 60.0  # what "recent" means: a stall is reported for a minute after it happened
DEFAULT_WARN_MS = 200.0
# Fine enough between 50 ms and 1 s (the goals' range) that a p99 read from the buckets is not a
# guess across a 300 ms wide one.
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)
METRIC = "scale_scheduler_event_loop_lag_seconds"


@dataclass(frozen=True, slots=True)
class LagSummary:
    samples: int
    p50_s: float
    p99_s: float
    max_s: float


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LoopLagMonitor:
    def __init__(
        self,
        *,
        interval_s: float = INTERVAL_S,
        warn_ms: float = DEFAULT_WARN_MS,
        window_s: float = WINDOW_S,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.warn_s = warn_ms / 1000
        self.window_s = window_s
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.histogram = Histogram(
            METRIC,
            "How late the event loop ran a timer that was due (seconds past its deadline)",
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self._recent: deque[tuple[float, float]] = deque()  # (when, lag), oldest first
        # The worst lag is what a stall looks like, and a histogram loses it; scraped every
        # WINDOW_S or more often, this gauge's maximum is the true one.
        Gauge(
            f"{METRIC[: -len('_seconds')]}_recent_max_seconds",
            f"The largest event loop lag of the last {window_s:.0f} s",
            registry=self.registry,
        ).set_function(lambda: self.recent().max_s)

    def record(self, lag_s: float) -> None:
        now = self.clock()
        self.histogram.observe(lag_s)
        self._recent.append((now, lag_s))
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()

    async def run(self) -> None:
        """Measure until cancelled."""
        while True:
            due = self.clock() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.record(max(0.0, self.clock() - due))

    def recent(self) -> LagSummary:
        cutoff = self.clock() - self.window_s
        lags = sorted(lag for when, lag in self._recent if when >= cutoff)
        if not lags:
            return LagSummary(0, 0.0, 0.0, 0.0)
        return LagSummary(len(lags), _quantile(lags, 0.5), _quantile(lags, 0.99), lags[-1])

    def problem(self) -> str | None:
        """A sentence for a scheduler warning while the loop was late past the threshold recently."""
        summary = self.recent()
        if summary.max_s <= self.warn_s:
            return None
        return (
            f"The event loop ran up to {summary.max_s * 1000:.0f} ms late in the last {self.window_s:.0f} s "
            f"(p99 {summary.p99_s * 1000:.0f} ms; warning above {self.warn_s * 1000:.0f} ms): "
            "offers, updates and status requests waited that long"
        )
