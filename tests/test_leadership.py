"""Two schedulers on one database: one leads and subscribes, the other stands by serving the
leader's stored status; when the leader stops, the standby takes over under the same framework id."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from scheduler.config import load_settings
from scheduler.daemon import run_daemon
from scheduler.sim import SimConfig, serve_sim


class LogSeen(logging.Handler):
    """Sets an event when a record whose message contains ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.loop.call_soon_threadsafe(self.seen.set)


async def stored_status_when(http, url, predicate, timeout=10.0):
    async with asyncio.timeout(timeout):
        while True:
            async with http.get(url + "/v6/status/") as resp:
                if resp.status == 200 and predicate(document := await resp.json()):
                    return document
            await asyncio.sleep(0.1)


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
        standing_by = LogSeen("Another scheduler leads; standing by")
        logging.getLogger("scheduler.runtime.leadership").addHandler(standing_by)
        try:
            second_stop, second_started, second = await start(settings(ports[1]))
            # The second one has tried for the lock and failed (or, wrongly, started leading).
            seen = asyncio.ensure_future(standing_by.seen.wait())
            await asyncio.wait([seen, second_started], timeout=15, return_when=asyncio.FIRST_COMPLETED)
            seen.cancel()
        finally:
            logging.getLogger("scheduler.runtime.leadership").removeHandler(standing_by)
        assert standing_by.seen.is_set() and not second_started.done()  # neither loads nor subscribes
        async with aiohttp.ClientSession() as http:
            # The leader's status, read from the database: once the leader has stored one written
            # after it subscribed, the standby serves that framework id.
            document = await stored_status_when(
                http, f"http://127.0.0.1:{ports[1]}", lambda d: d["scheduler"]["mesos"]["framework_id"] == framework_id
            )
            assert document["scheduler"]["mesos"]["framework_id"] == framework_id
            async with http.get(f"http://127.0.0.1:{ports[1]}/readyz") as resp:
                assert resp.status == 503
        assert not second_started.done()
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
