"""A sliding window of exact per-second counts.

Scale resets its counters at every status generation, a tumbling window of 5-6 s; here each second
keeps its own count, and a rate is the sum over the last ``window_s`` complete seconds divided by
that many seconds (fewer just after start, so a fresh scheduler does not under-report).
"""

from __future__ import annotations

import math


def scale_round(value: float) -> float:
    """Scale's rounding of a rate: over 100 a whole number, over 10 one decimal, else two."""
    if value > 100:
        return float(round(value))
    if value > 10:
        return round(value, 1)
    return round(value, 2)


class SlidingCounter:
    __slots__ = ("window_s", "total", "_counts", "_started_s")

    def __init__(self, window_s: int, now: float) -> None:
        if window_s < 1:
            raise ValueError("the window is at least one second")
        self.window_s = window_s
        self.total = 0  # monotonic, for Prometheus
        self._counts: dict[int, int] = {}  # whole second -> count
        self._started_s = math.floor(now)

    def add(self, count: int, now: float) -> None:
        if count <= 0:
            return
        second = math.floor(now)
        self._counts[second] = self._counts.get(second, 0) + count
        self.total += count
        if len(self._counts) > self.window_s + 2:
            self._prune(second)

    def _prune(self, second: int) -> None:
        oldest_kept = second - self.window_s
        for key in [k for k in self._counts if k < oldest_kept]:
            del self._counts[key]

    def rate(self, now: float) -> float:
        """Events per second over the last complete seconds of the window."""
        current = math.floor(now)
        seconds = min(self.window_s, current - self._started_s)
        if seconds <= 0:
            return 0.0
        first = current - seconds
        count = sum(c for second, c in self._counts.items() if first <= second < current)
        return count / seconds
