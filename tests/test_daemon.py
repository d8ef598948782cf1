"""The whole scheduler process against the simulated master: restarts keep the framework id,
SIGTERM stops it cleanly and never tears the framework down."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from scheduler.config import load_settings
from scheduler.daemon import run_daemon
from scheduler.sim import SimConfig, serve_sim


def settings_for(master_url: str, database_url: str):
    return load_settings(
        {},
        overrides={
            "MESOS_MASTER_URL": master_url,
            "DATABASE_URL": database_url,
            "PORT0": "0",
            "SCALE_API_HOST": "127.0.0.1",
            "STATUS_INTERVAL": "0.2",
        },
    )


async def run_until_subscribed(settings) -> str:
    """Start the daemon, wait for its subscription, stop it; returns the framework id it used."""
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_daemon(settings, stop=stop, on_started=started.set_result))
    daemon = await asyncio.wait_for(started, 10)
    async with asyncio.timeout(10):
        while not daemon.driver.subscribed:
            await asyncio.sleep(0.05)
    framework_id = daemon.driver.framework_id
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    return framework_id


@pytest.mark.integration
async def test_a_restarted_scheduler_keeps_its_framework_id(database_url):
    sim = await serve_sim(SimConfig(agents=2, heartbeat_interval_s=0.5, allocation_interval_s=0.1), "127.0.0.1", 0)
    try:
        settings = settings_for(sim.url, database_url)
        first = await run_until_subscribed(settings)
        second = await run_until_subscribed(settings)
        assert first == second
        async with aiohttp.ClientSession() as http, http.get(sim.url + "/master/state") as resp:
            frameworks = (await resp.json())["frameworks"]
        assert [f["id"] for f in frameworks] == [first]  # still registered: no TEARDOWN on stop
    finally:
        await sim.close()


async def test_a_fresh_database_is_migrated_before_anything_reads_it(tmp_path, caplog):
    """The first start on a new SQLite file logs no read of a table that does not exist yet."""
    caplog.set_level(logging.INFO)
    sim = await serve_sim(SimConfig(agents=1, heartbeat_interval_s=0.5), "127.0.0.1", 0)
    try:
        await run_until_subscribed(settings_for(sim.url, f"sqlite:///{tmp_path}/fresh.db"))
    finally:
        await sim.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("Database ") and message.endswith(" is ready") for message in messages)
    premature = [m for m in messages if "no such table" in m or "Cannot read the status from the database" in m]
    assert premature == []


async def test_stopped_while_the_database_is_unreachable_it_exits_cleanly(caplog, unused_tcp_port_factory):
    """Stopping during the migration retries ends the start-up steps taken so far; exit code 0."""
    caplog.set_level(logging.INFO)
    port = unused_tcp_port_factory()
    settings = settings_for("http://127.0.0.1:9", f"postgresql://postgres@127.0.0.1:{unused_tcp_port_factory()}/none")
    settings = settings.replace(api_port=port)
    stop = asyncio.Event()
    task = asyncio.create_task(run_daemon(settings, stop=stop))
    async with asyncio.timeout(10):
        while not any("is not ready" in record.getMessage() for record in caplog.records):
            await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/livez") as resp:
        assert resp.status == 200  # the API answers while the database is awaited
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0
    assert caplog.records[-1].getMessage() == "Stopped"
    with pytest.raises(aiohttp.ClientConnectionError):  # the API step was stopped too
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/livez"):
            pass


async def test_a_taken_port_exits_with_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = settings_for("http://127.0.0.1:9", f"sqlite:///{tmp_path}/s.db")
        settings = settings.replace(api_port=taken.getsockname()[1])
        assert await asyncio.wait_for(run_daemon(settings, stop=asyncio.Event()), 10) == 1
    assert not (tmp_path / "s.db").exists()  # nothing after the API step was started


@pytest.mark.slow
async def test_sigterm_stops_the_process_cleanly(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, heartbeat_interval_s=0.5), "127.0.0.1", 0)
    env = {**os.environ, "MESOS_MASTER_URL": sim.url, "DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "PORT0": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        async with asyncio.timeout(15):
            while not sim.state.frameworks or not any(f.connected for f in sim.state.frameworks.values()):
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        returncode = await asyncio.to_thread(process.wait, 10)
        assert returncode == 0
        assert time.monotonic() - started < 5
        log = process.stderr.read()
        assert "Stopped" in log and "TEARDOWN" not in log
        assert len(sim.state.frameworks) == 1  # the framework is kept for its failover timeout
    finally:
        if process.poll() is None:
            process.kill()
        await sim.close()
