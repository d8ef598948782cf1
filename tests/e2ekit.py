"""Helpers for end-to-end tests: a whole scheduler in-process against a simulator, and its status."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from scheduler.config import load_settings
from scheduler.daemon import run_daemon


@contextlib.asynccontextmanager
async def scheduler_against(sim, tmp_path, **overrides):
    values = {
        "MESOS_MASTER_URL": sim.url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/status.db",
        "PORT0": "0",
        "SCALE_API_HOST": "127.0.0.1",
        "MASTER_POLL_INTERVAL": "0.5",
        "STATUS_PERSIST_INTERVAL": "0.5",
        # The daemon shares the test process's loop and collector (default thresholds, a heap grown by
        # a thousand tests): a 200 ms stall there would raise EVENT_LOOP_LAG for a minute in a test
        # about something else. The warning has tests of its own (tests/engine, tests/runtime).
        "LOOP_LAG_WARN_MS": "10000",
        **overrides,
    }
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_daemon(load_settings({}, overrides=values), stop=stop, on_started=started.set_result)
    )
    daemon = await asyncio.wait_for(started, 10)
    try:
        async with aiohttp.ClientSession(base_url=daemon.api_url) as http:
            yield daemon, http
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def status_when(http, predicate, timeout=15.0):
    """Poll /v6/status/ until ``predicate(document)`` holds; returns that document."""
    deadline = time.monotonic() + timeout
    document = None
    while time.monotonic() < deadline:
        async with http.get("/v6/status/") as resp:
            if resp.status == 200:
                document = await resp.json()
                if predicate(document):
                    return document
        await asyncio.sleep(0.2)
    warnings = document and document.get("scheduler", {}).get("warnings")
    raise AssertionError(f"status never matched; last: {document and document.get('nodes')}; warnings: {warnings}")
