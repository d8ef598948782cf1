"""Each scheduling pass (a Cycle applied to the core) is timed into the histogram the daemon attaches."""

from __future__ import annotations

from harness import Harness

from scheduler.runtime.runtime_metrics import RuntimeMetrics

COUNT = "scale_scheduler_scheduling_pass_seconds_count"


async def test_each_pass_is_observed(tmp_path):
    h = Harness(tmp_path, agents=2)
    await h.start()  # without a histogram attached: nothing to feed, nothing fails
    metrics = RuntimeMetrics(loop_lag_warn_ms=200)
    h.engine.scheduling_pass = metrics.scheduling_pass
    h.queue_jobs(3)
    await h.sync()
    await h.offer_all()  # offers and updates are inputs too: they are not passes
    assert metrics.registry.get_sample_value(COUNT) == 0
    await h.cycle()
    await h.cycle()
    assert metrics.registry.get_sample_value(COUNT) == 2
