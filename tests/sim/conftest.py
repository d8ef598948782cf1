"""Fixtures: a simulator on an ephemeral loopback port, with short intervals."""

from __future__ import annotations

import aiohttp
import pytest
from simkit import SimClient

from scheduler.sim import SimConfig, serve_sim

# Short intervals keep the suite fast; tasks run long unless a test says otherwise.
FAST = SimConfig(
    agents=3,
    heartbeat_interval_s=0.2,
    allocation_interval_s=0.05,
    update_retry_s=0.3,
    task_start_delay_s=0.02,
    task_duration_s=30.0,
    kill_delay_s=0.02,
)


@pytest.fixture
async def make_sim():
    """Start simulators with FAST settings plus overrides; all closed afterwards."""
    handles = []
    sessions = []
    clients = []

    async def start(**overrides):
        handle = await serve_sim(FAST.replace(**overrides))
        handles.append(handle)
        session = aiohttp.ClientSession()
        sessions.append(session)
        client = SimClient(session, handle.url)
        clients.append(client)
        return handle, client

    yield start
    for client in clients:
        await client.close()
    for session in sessions:
        await session.close()
    for handle in handles:
        await handle.close()


@pytest.fixture
async def sim(make_sim):
    handle, client = await make_sim()
    return handle, client
