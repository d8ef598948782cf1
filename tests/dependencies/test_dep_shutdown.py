"""The scheduler process while its database hangs: it keeps serving a fresh status, reports the
outage, and SIGTERM still ends it within seconds (no thread stuck on a dead connection keeps it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import aiohttp
import pytest
from depkit import Forwarder, free_port

from scheduler.sim import SimConfig, serve_sim
from scheduler.timefmt import parse_iso


@pytest.mark.integration
@pytest.mark.slow
async def test_hung_database_then_sigterm(postgres_url, tmp_path):
    target = urlsplit(postgres_url)
    forwarder = await Forwarder(target.hostname, target.port).start()
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    port = free_port()
    env = {
        **os.environ,
        "MESOS_MASTER_URL": sim.url,
        "DATABASE_URL": forwarder.url_for(postgres_url),
        "DATABASE_TIMEOUT": "2",
        "PROBE_INTERVAL": "0.5",
        "PROBE_TIMEOUT": "1",
        "PORT0": str(port),
        "SCALE_API_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    api = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def status() -> dict | None:
                try:
                    async with http.get(api + "/v6/status/") as resp:
                        return await resp.json() if resp.status == 200 else None
                except aiohttp.ClientError:
                    return None

            async with asyncio.timeout(30):
                while not ((d := await status()) and d["dependencies"]["database"]["OK"] and d["nodes"]):
                    await asyncio.sleep(0.3)
            await forwarder.stall()  # open connections hang mid-query; new ones are never answered
            async with asyncio.timeout(15):
                while (d := await status()) is None or d["dependencies"]["database"]["OK"]:
                    await asyncio.sleep(0.3)
            assert d["dependencies"]["database"]["errors"]
            assert time.time() - parse_iso(d["timestamp"]) <= 2.0  # still fresh while the database hangs
            async with http.get(api + "/readyz") as resp:
                assert resp.status == 503
            async with http.get(api + "/livez") as resp:
                assert resp.status == 200  # a database outage is not a reason to restart the process
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        returncode = await asyncio.to_thread(process.wait, 20)
        assert returncode == 0
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
        await sim.close()
        await forwarder.close()
