"""The seven rates of ``scheduler.metrics`` in the v6 status, with their monotonic totals."""

from __future__ import annotations

from scheduler.metrics.window import SlidingCounter, scale_round

# Status key -> what one count is. Key order is the status document's.
METRICS = {
    "task_updates_per_sec": "task status updates received",
    "new_offers_per_sec": "offers received",
    "jobs_finished_per_sec": "job executions that reached a final state",
    "jobs_launched_per_sec": "job executions launched",
    "tasks_launched_per_sec": "tasks launched (job, node and system tasks)",
    "offers_launched_per_sec": "offers used to launch tasks",
    "tasks_finished_per_sec": "tasks that ended FINISHED, FAILED or KILLED",
}


class SchedulerMetrics:
    def __init__(self, window_s: int, now: float) -> None:
        self.counters = {key: SlidingCounter(window_s, now) for key in METRICS}

    def count(self, key: str, n: int, now: float) -> None:
        self.counters[key].add(n, now)

    def rates(self, now: float) -> dict[str, float]:
        return {key: scale_round(counter.rate(now)) for key, counter in self.counters.items()}

    def totals(self) -> dict[str, int]:
        """Monotonic counts since start, keyed like the rates without ``_per_sec``."""
        return {key.removesuffix("_per_sec"): counter.total for key, counter in self.counters.items()}
