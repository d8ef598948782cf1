"""A running scheduler's /metrics carries the event loop lag, GC pause, scheduling pass and master call
and status build histograms, and its cycles by launch hold."""

from __future__ import annotations

import asyncio
import time

from e2ekit import scheduler_against, status_when
from prometheus_client.parser import text_string_to_metric_families

from scheduler.sim import SimConfig, serve_sim


def counts(text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.endswith("_count")
    }


async def test_metrics_show_loop_lag_and_pass_times(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path) as (_daemon, http):
            await status_when(http, lambda d: len(d["nodes"]) == 2)
            deadline = time.monotonic() + 15
            while True:
                async with http.get("/metrics") as resp:
                    assert resp.status == 200
                    found = counts(await resp.text())
                lag = found.get("scale_scheduler_event_loop_lag_seconds_count", 0)
                passes = found.get("scale_scheduler_scheduling_pass_seconds_count", 0)
                collections = found.get("scale_scheduler_gc_pause_seconds_count", 0)  # the last generation listed
                calls = found.get("scale_scheduler_master_call_seconds_count", 0)  # declines at least
                queued = found.get("scale_scheduler_master_call_queued_seconds_count", 0)
                builds = found.get("scale_scheduler_status_build_seconds_count", 0)
                if lag >= 5 and passes >= 2 and collections >= 1 and calls >= 1 and queued == calls and builds >= 2:
                    break
                assert time.monotonic() < deadline, found
                await asyncio.sleep(0.2)
            async with http.get("/metrics") as resp:
                text = await resp.text()
            assert "scale_scheduler_offers_held" in text
            assert 'scale_scheduler_scheduling_cycles_total{launch_hold="none"}' in text
    finally:
        await sim.close()
