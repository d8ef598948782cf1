"""PUT /sim/master/latency: a slow master that answers each scheduler call late, without
holding up other calls (each request sleeps on its own)."""

from __future__ import annotations

import asyncio
import time

import pytest


async def _wait_until(predicate, timeout=5.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_get_and_put_latency(sim):
    handle, client = sim
    assert await client.control("GET", "/sim/master/latency") == (200, {"ms": 0.0, "delayed_calls": 0})
    assert await client.control("PUT", "/sim/master/latency", {"ms": 200}) == (200, {"ms": 200.0})
    assert (await client.control("GET", "/sim/master/latency"))[1]["ms"] == 200.0
    status, state = await client.control("GET", "/sim/state")
    assert state["master"]["call_latency_ms"] == 200.0


@pytest.mark.parametrize("body", [{"ms": -1}, {"ms": 60_001}, {"ms": "200"}, {}, {"ms": 1, "x": 2}])
async def test_latency_is_bounded(sim, body):
    handle, client = sim
    status, answer = await client.control("PUT", "/sim/master/latency", body)
    assert status == 400 and "ms" in answer["detail"]
    assert handle.master.call_latency_s == 0


async def test_each_call_is_answered_after_the_latency(sim):
    handle, client = sim
    sub = await client.subscribe()
    await client.control("PUT", "/sim/master/latency", {"ms": 300})
    started = time.monotonic()
    status, _ = await client.call(sub, {"type": "SUPPRESS"})
    assert status == 202
    assert time.monotonic() - started >= 0.3
    assert handle.state.frameworks[sub.framework_id].suppressed  # handled, after the wait


async def test_a_delayed_call_does_not_block_other_calls(sim):
    handle, client = sim
    sub = await client.subscribe()
    fw = handle.state.frameworks[sub.framework_id]
    await client.control("PUT", "/sim/master/latency", {"ms": 60_000})
    slow = asyncio.create_task(client.call(sub, {"type": "SUPPRESS"}))
    await _wait_until(lambda: handle.master.delayed_calls == 1)
    # The control API, and a call arriving while the first waits, are not held up by it.
    await client.control("PUT", "/sim/master/latency", {"ms": 0})
    assert await client.call(sub, {"type": "REVIVE"}) == (202, "")
    assert not slow.done() and not fw.suppressed  # the first is still waiting, not yet handled
    slow.cancel()
    await asyncio.gather(slow, return_exceptions=True)
    await _wait_until(lambda: handle.master.delayed_calls == 0)
