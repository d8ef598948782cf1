"""Fixtures for driver tests: a simulated master on an ephemeral loopback port, an HTTP client."""

from __future__ import annotations

import aiohttp
import pytest
from driverkit import sim_config

from scheduler.sim.server import serve_sim


@pytest.fixture
async def sim():
    handle = await serve_sim(sim_config(), "127.0.0.1", 0)
    try:
        yield handle
    finally:
        await handle.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session
