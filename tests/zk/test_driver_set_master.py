"""``MesosDriver.set_master``: told of a new leader, the driver moves its subscription at once."""

from __future__ import annotations

import asyncio
import contextlib
import random

from scheduler.mesos.calls import FrameworkSpec
from scheduler.mesos.driver import DriverOptions, MemoryFrameworkIdStore, MesosDriver
from scheduler.mesos.events import Subscribed
from scheduler.sim import SimConfig, serve_sim

FAST = dict(agents=1, heartbeat_interval_s=0.5, allocation_interval_s=0.1, task_start_delay_s=0.02)


@contextlib.asynccontextmanager
async def driver_at(master_url: str, *, backoff_base_s: float = 0.05, backoff_max_s: float = 0.5):
    events: list = []
    spec = FrameworkSpec(user="nobody", name="zk-test", role="*", hostname="test-host", failover_timeout_s=60.0)
    options = DriverOptions(
        master_url=master_url, call_timeout_s=5, backoff_base_s=backoff_base_s, backoff_max_s=backoff_max_s
    )
    driver = MesosDriver(spec, options, events.append, MemoryFrameworkIdStore(), rng=random.Random(1))
    task = asyncio.create_task(driver.run())
    try:
        yield driver, events
    finally:
        await driver.stop()
        await asyncio.wait_for(task, 5)


async def until(predicate, timeout_s: float = 5.0) -> float:
    """Wait for ``predicate()``; returns how long it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout_s:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)
    return loop.time() - start


def framework_ids(sim) -> list[str]:
    return [fw.id for fw in sim.state.frameworks.values() if fw.connected]


async def test_set_master_moves_the_subscription_under_the_same_framework_id():
    a = await serve_sim(SimConfig(**FAST, seed=1), "127.0.0.1", 0)
    b = await serve_sim(SimConfig(**FAST, seed=2), "127.0.0.1", 0)
    try:
        # A long backoff proves the move does not wait for it.
        async with driver_at(a.url, backoff_base_s=30, backoff_max_s=30) as (driver, events):
            await until(lambda: driver.subscribed)
            framework_id = driver.framework_id
            assert framework_ids(a) == [framework_id]

            driver.set_master(b.url + "/")
            assert driver.master_url == b.url
            took = await until(lambda: driver.subscriptions == 2 and driver.subscribed)
            assert took < 2.0
            # The new master did not know the framework; like a Mesos master after a failover it
            # takes the id from the FrameworkInfo.
            assert framework_ids(b) == [framework_id] and driver.framework_id == framework_id
            assert [e.framework_id for e in events if isinstance(e, Subscribed)] == [framework_id] * 2
            await until(lambda: framework_ids(a) == [])  # the old stream was closed
    finally:
        await a.close()
        await b.close()


async def test_a_driver_without_a_master_waits_for_one_and_none_keeps_the_current():
    a = await serve_sim(SimConfig(**FAST), "127.0.0.1", 0)
    try:
        async with driver_at("") as (driver, _events):
            await asyncio.sleep(0.3)
            assert not driver.subscribed and a.state.frameworks == {}
            driver.set_master(a.url)
            await until(lambda: driver.subscribed)
            subscriptions = driver.subscriptions
            driver.set_master(None)  # no leader known: stay
            driver.set_master(a.url)  # the same leader: nothing to do
            await asyncio.sleep(0.3)
            assert driver.subscribed and driver.subscriptions == subscriptions
    finally:
        await a.close()
