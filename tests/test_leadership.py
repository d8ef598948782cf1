"""Two schedulers on one database: one leads and subscribes, the other stands by serving the
leader's stored status; when the leader stops, the standby takes over under the same framework id."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from scheduler.config import load_settings
from scheduler.daemon import run_daemon
from scheduler.sim import SimConfig, serve_sim


async def start(settings):
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_daemon(settings, stop=stop, on_started=started.set_result))
    return stop, started, task


@pytest.mark.integration
async def test_one_leader_one_standby_then_takeover(database_url, tmp_path, unused_tcp_port_factory):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    ports = [unused_tcp_port_factory(), unused_tcp_port_factory()]

    def settings(port):
        return load_settings(
            {},
            overrides={
                "MESOS_MASTER_URL": sim.url,
                "DATABASE_URL": database_url,
                "PORT0": str(port),
                "SCALE_API_HOST": "127.0.0.1",
                "STATUS_PERSIST_INTERVAL": "0.5",
            },
        )

    first_stop, first_started, first = await start(settings(ports[0]))
    second_stop, second = asyncio.Event(), None
    try:
        leader = await asyncio.wait_for(first_started, 15)
        async with asyncio.timeout(10):
            while not leader.driver.subscribed:
                await asyncio.sleep(0.05)
        framework_id = leader.driver.framework_id
        second_stop, second_started, second = await start(settings(ports[1]))
        await asyncio.sleep(2.0)
        assert not second_started.done()  # standing by: it neither loads nor subscribes
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{ports[1]}/v6/status/") as resp:
                assert resp.status == 200  # the leader's status, from the database
                assert (await resp.json())["scheduler"]["mesos"]["framework_id"] == framework_id
            async with http.get(f"http://127.0.0.1:{ports[1]}/readyz") as resp:
                assert resp.status == 503
        assert len([f for f in sim.state.frameworks.values() if f.connected]) == 1

        first_stop.set()
        assert await asyncio.wait_for(first, 15) == 0
        successor = await asyncio.wait_for(second_started, 20)
        async with asyncio.timeout(10):
            while not successor.driver.subscribed:
                await asyncio.sleep(0.05)
        assert successor.driver.framework_id == framework_id
        second_stop.set()
        assert await asyncio.wait_for(second, 15) == 0
    finally:
        first_stop.set()
        second_stop.set()
        await asyncio.gather(*[t for t in (first, second) if t is not None], return_exceptions=True)
        await sim.close()
