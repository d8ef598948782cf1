"""The garbage collector's pauses, timed by the collector's own callbacks."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from scheduler.runtime.gc_pauses import METRIC, GcPauses


class StepClock:
    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 0.0, step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


def sample(registry: CollectorRegistry, suffix: str, generation: str) -> float | None:
    return registry.get_sample_value(f"{METRIC}{suffix}", {"generation": generation})


def test_a_full_collection_is_timed_under_its_generation():
    registry = CollectorRegistry()
    pauses = GcPauses(registry, clock=StepClock(0.25))
    pauses.install()
    try:
        gc.collect(2)
    finally:
        pauses.uninstall()
    assert sample(registry, "_count", "2") == 1
    assert sample(registry, "_sum", "2") == 0.25  # one step of the clock between start and stop
    assert registry.get_sample_value(f"{METRIC}_bucket", {"generation": "2", "le": "0.2"}) == 0
    assert registry.get_sample_value(f"{METRIC}_bucket", {"generation": "2", "le": "0.5"}) == 1


def test_uninstalled_it_times_nothing_and_installs_once():
    registry = CollectorRegistry()
    pauses = GcPauses(registry)
    pauses.install()
    pauses.install()
    assert gc.callbacks.count(pauses) == 1
    pauses.uninstall()
    assert pauses not in gc.callbacks
    gc.collect(1)
    assert sample(registry, "_count", "1") is None


def test_a_stop_without_its_start_is_ignored():
    registry = CollectorRegistry()
    pauses = GcPauses(registry, clock=StepClock(1.0))
    pauses("stop", {"generation": 0})
    assert sample(registry, "_count", "0") is None


def test_the_objects_a_collection_frees_are_counted_under_its_generation():
    registry = CollectorRegistry()
    pauses = GcPauses(registry)
    gc.collect()
    pauses.install()
    try:
        for _ in range(100):  # a hundred two-object cycles: only the collector frees them
            first, second = [], []
            first.append(second)
            second.append(first)
        del first, second
        gc.collect(2)
    finally:
        pauses.uninstall()
    assert registry.get_sample_value("scale_scheduler_gc_collected_objects_total", {"generation": "2"}) >= 200
