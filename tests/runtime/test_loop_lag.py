"""The event-loop lag monitor: a blocked loop shows in the histogram, in /metrics and as a problem."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from scheduler.api.app import create_app
from scheduler.api.health import HealthSources
from scheduler.core.state import CoreState
from scheduler.runtime.loop_lag import METRIC, LoopLagMonitor
from scheduler.runtime.runtime_metrics import RuntimeMetrics
from scheduler.status.core_view import view_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bucket(monitor: LoopLagMonitor, le: str) -> float:
    return monitor.registry.get_sample_value(f"{METRIC}_bucket", {"le": le})


async def wait_for(predicate, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


def test_problem_follows_the_threshold_and_the_window():
    clock = FakeClock()
    monitor = LoopLagMonitor(warn_ms=200, window_s=60, clock=clock)
    for _ in range(99):
        monitor.record(0.002)
    monitor.record(0.199)
    assert monitor.problem() is None  # at most the threshold: no warning
    assert monitor.recent().max_s == 0.199
    clock.now += 1
    monitor.record(0.650)
    assert "650 ms late" in monitor.problem()
    summary = monitor.recent()
    assert (summary.samples, summary.p50_s, summary.max_s) == (101, 0.002, 0.650)
    clock.now += 60.5  # the stall has left the window; the histogram keeps it
    assert monitor.problem() is None
    assert monitor.recent().samples == 0
    assert bucket(monitor, "0.5") == 100 and bucket(monitor, "1.0") == 101


async def test_a_blocked_loop_is_measured():
    monitor = LoopLagMonitor(interval_s=0.02, warn_ms=150)
    task = asyncio.create_task(monitor.run())
    try:
        await wait_for(lambda: monitor.recent().samples >= 3)
        time.sleep(0.4)  # the stall being measured: nothing else runs meanwhile
        await wait_for(lambda: monitor.recent().max_s >= 0.3)
    finally:
        task.cancel()
    assert monitor.recent().max_s < 1.0  # one stall of 0.4 s, seen once, not stretched
    assert bucket(monitor, "+Inf") - bucket(monitor, "0.2") >= 1  # the stall is in the histogram
    assert monitor.problem() is not None and "ms late" in monitor.problem()
    assert monitor.registry.get_sample_value(f"{METRIC[:-8]}_recent_max_seconds") == monitor.recent().max_s


async def test_metrics_endpoint_carries_the_lag_and_pass_histograms():
    view = view_of(CoreState(hostname="h", now=time.time()), time.time())
    sources = HealthSources(
        view=lambda: view,
        snapshot_time=time.time,
        subscribed=lambda: True,
        database_error=lambda: None,
        dependencies=dict,
        freshness_s=12.0,
    )
    app = create_app(health=sources)
    metrics = RuntimeMetrics(loop_lag_warn_ms=200)
    metrics.loop_lag.interval_s = 0.02
    metrics.install(app)
    client = TestClient(TestServer(app))
    await client.start_server()  # starts the monitor with the app
    try:
        assert [task for task in asyncio.all_tasks() if task.get_name() == "loop-lag"]
        await wait_for(lambda: metrics.loop_lag.recent().samples >= 2)
        time.sleep(0.3)
        await wait_for(lambda: metrics.loop_lag.recent().max_s >= 0.2)
        metrics.scheduling_pass.observe(0.003)
        resp = await client.get("/metrics")
        assert resp.status == 200
        text = await resp.text()
    finally:
        await client.close()
    assert "scale_scheduler_offers_held 0.0" in text  # the app's own metrics are still there
    assert f"# TYPE {METRIC} histogram" in text
    inf = next(line for line in text.splitlines() if line.startswith(f'{METRIC}_bucket{{le="+Inf"}}'))
    small = next(line for line in text.splitlines() if line.startswith(f'{METRIC}_bucket{{le="0.1"}}'))
    assert float(inf.split()[-1]) > float(small.split()[-1])  # the stall landed above 0.1 s
    assert 'scale_scheduler_scheduling_pass_seconds_bucket{le="0.005"} 1.0' in text
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "loop-lag"]  # stopped with the app
