"""Helpers for driver tests: a recorder of events, a running driver, fast simulator settings."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from scheduler.mesos.calls import FrameworkSpec
from scheduler.mesos.driver import DriverOptions, MemoryFrameworkIdStore, MesosDriver
from scheduler.sim.options import SimConfig

FAST = dict(
    heartbeat_interval_s=0.2,
    allocation_interval_s=0.05,
    update_retry_s=0.3,
    task_start_delay_s=0.02,
    task_duration_s=0.3,
    kill_delay_s=0.02,
)


def sim_config(**overrides: Any) -> SimConfig:
    return SimConfig(**{"agents": 2, **FAST, **overrides})


class Recorder:
    """Collects the driver's events; ``wait_for`` returns the next one matching a predicate."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._seen = 0

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    async def wait_for(self, predicate, timeout: float = 5.0):
        """The first event not yet returned by wait_for that matches ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index in range(self._seen, len(self.events)):
                if predicate(self.events[index]):
                    self._seen = index + 1
                    return self.events[index]
            if loop.time() > deadline:
                kinds = [type(e).__name__ for e in self.events[self._seen :]]
                raise TimeoutError(f"no matching event within {timeout} s; saw {kinds[-20:]}")
            await asyncio.sleep(0.01)

    def of_type(self, kind) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def spec(**overrides: Any) -> FrameworkSpec:
    values = dict(user="nobody", name="scale-test", role="*", hostname="test-host", failover_timeout_s=60.0)
    values.update(overrides)
    return FrameworkSpec(**values)


@contextlib.asynccontextmanager
async def running_driver(
    master_url: str,
    *,
    store=None,
    missed_heartbeats: int = 3,
    call_timeout_s: float = 5,
    secret: str | None = None,
    recorder: Recorder | None = None,
    **spec_overrides,
):
    recorder = recorder if recorder is not None else Recorder()
    store = store or MemoryFrameworkIdStore()
    options = DriverOptions(
        master_url=master_url,
        call_timeout_s=call_timeout_s,
        missed_heartbeats=missed_heartbeats,
        backoff_base_s=0.05,
        backoff_max_s=0.5,
        principal=spec_overrides.get("principal"),
        secret=secret,
    )
    driver = MesosDriver(spec(**spec_overrides), options, recorder, store, rng=random.Random(1))
    task = asyncio.create_task(driver.run())
    try:
        yield driver, recorder
    finally:
        await driver.stop()
        await asyncio.wait_for(task, 5)
